using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Mono.Unix.Native;
using UFork.Output;
using UFork.Spawning;
using UFork.Worker;

namespace UFork.Sockets;

/// <summary>
/// The listening sockets an arbiter binds before any worker starts and holds open for its whole life, so
/// that restarting a worker never closes them and never drops a connection waiting in the backlog. Each
/// fd is created with FD_CLOEXEC (the spawner dup2s it to fds 3.. of each worker) and left blocking, as
/// systemd hands sockets over; the arbiter itself never accepts on them.
/// </summary>
public sealed class ListenSockets : IDisposable
{
    private readonly List<BoundSocket> _bound;

    private ListenSockets(List<BoundSocket> bound)
    {
        _bound = bound;
        Sockets = bound.Select(b => new ListenSocket(b.Fd, FdName(b.Address))).ToList();
    }

    /// <summary>What workers inherit, in order, at fds 3, 4, ...</summary>
    public IReadOnlyList<ListenSocket> Sockets { get; }

    /// <summary>The bound addresses, with the port the kernel chose where port 0 was asked for.</summary>
    public IReadOnlyList<string> Addresses => _bound.Select(b => b.Address).ToList();

    /// <summary>Binds and listens on every address, or on none: the first failure closes those already bound.</summary>
    /// <exception cref="ListenSocketException">An address cannot be resolved, bound or listened on.</exception>
    public static ListenSockets Bind(IReadOnlyList<BindAddress> addresses, int backlog)
    {
        var bound = new List<BoundSocket>();
        try
        {
            foreach (var address in addresses)
                bound.Add(BindOne(address, backlog));
            return new ListenSockets(bound);
        }
        catch
        {
            new ListenSockets(bound).Dispose();
            throw;
        }
    }

    /// <summary>Tells the person which address each socket got (port 0 becomes a real port).</summary>
    public void Announce(IOutputSink output)
    {
        for (var i = 0; i < _bound.Count; i++)
            output.WriteLine($"[ufork] listening on {_bound[i].Address} (fd {3 + i} in workers)");
    }

    public void Dispose()
    {
        foreach (var socket in _bound)
        {
            Libc.close(socket.Fd);
            if (socket.UnixPath is { } path && Syscall.stat(path, out var stat) == 0 && stat.st_ino == socket.UnixInode)
                Syscall.unlink(path);
        }
        _bound.Clear();
    }

    private static unsafe BoundSocket BindOne(BindAddress address, int backlog)
    {
        EndPoint endpoint = address.IsUnix
            ? new UnixDomainSocketEndPoint(address.UnixPath!)
            : new IPEndPoint(Resolve(address), address.Port);
        // .NET serialises an endpoint as the native sockaddr on Linux, family included.
        var sockaddr = endpoint.Serialize();
        var bytes = sockaddr.Buffer[..sockaddr.Size].ToArray();
        var family = BitConverter.ToUInt16(bytes, 0);

        var fd = SocketLibc.socket(family, SocketLibc.SOCK_STREAM | SocketLibc.SOCK_CLOEXEC, 0);
        if (fd < 0)
            throw Failure("cannot bind", address, Marshal.GetLastPInvokeError());
        try
        {
            if (family != SocketLibc.AF_UNIX)
            {
                // A restarted arbiter can bind at once although connections of the last run sit in TIME_WAIT.
                var on = 1;
                SocketLibc.setsockopt(fd, SocketLibc.SOL_SOCKET, SocketLibc.SO_REUSEADDR, &on, sizeof(int));
            }
            var error = BindFd(fd, bytes);
            if (error == SocketLibc.EADDRINUSE && address.IsUnix && IsStaleUnixSocket(address.UnixPath!))
            {
                File.Delete(address.UnixPath!);
                error = BindFd(fd, bytes);
            }
            if (error != 0)
                throw Failure("cannot bind", address, error);
            if (SocketLibc.listen(fd, backlog) != 0)
                throw Failure("cannot listen on", address, Marshal.GetLastPInvokeError());
            return address.IsUnix
                ? new BoundSocket(fd, address.Text, address.UnixPath, InodeOf(address.UnixPath!))
                : new BoundSocket(fd, new IPEndPoint(((IPEndPoint)endpoint).Address, LocalPort(fd)).ToString(), null, 0);
        }
        catch
        {
            Libc.close(fd);
            throw;
        }
    }

    private static unsafe int BindFd(int fd, byte[] sockaddr)
    {
        fixed (byte* address = sockaddr)
            return SocketLibc.bind(fd, address, sockaddr.Length) == 0 ? 0 : Marshal.GetLastPInvokeError();
    }

    private static IPAddress Resolve(BindAddress address)
    {
        if (IPAddress.TryParse(address.Host, out var ip))
            return ip;
        try
        {
            var all = Dns.GetHostAddresses(address.Host!);
            return all.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                   ?? all.FirstOrDefault()
                   ?? throw new ListenSocketException($"cannot bind {address}: {address.Host} has no address");
        }
        catch (SocketException e)
        {
            throw new ListenSocketException($"cannot bind {address}: cannot resolve {address.Host} ({Lowercase(e.Message)})");
        }
    }

    /// <summary>A socket file that nobody accepts on is what a killed server leaves behind; one that answers is in use.</summary>
    private static bool IsStaleUnixSocket(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return false;
        }
        catch (SocketException e)
        {
            return e.SocketErrorCode == SocketError.ConnectionRefused;
        }
    }

    private static unsafe int LocalPort(int fd)
    {
        var buffer = stackalloc byte[128];
        var length = 128;
        if (SocketLibc.getsockname(fd, buffer, &length) != 0)
            throw new ListenSocketException($"getsockname failed: {Marshal.GetLastPInvokeErrorMessage()}");
        return buffer[2] << 8 | buffer[3]; // sin_port and sin6_port, in network byte order
    }

    private static ulong InodeOf(string path) => Syscall.stat(path, out var stat) == 0 ? stat.st_ino : 0;

    /// <summary>LISTEN_FDNAMES is colon-separated, so a name cannot contain one.</summary>
    private static string FdName(string address) => address.Replace(':', '_');

    private static ListenSocketException Failure(string what, BindAddress address, int errno) =>
        new($"{what} {address}: {Lowercase(Marshal.GetPInvokeErrorMessage(errno))}");

    private static string Lowercase(string message) =>
        message.Length > 1 && char.IsUpper(message[0]) && char.IsLower(message[1])
            ? char.ToLowerInvariant(message[0]) + message[1..]
            : message;

    private sealed record BoundSocket(int Fd, string Address, string? UnixPath, ulong UnixInode);
}

/// <summary>A listening socket that cannot be set up, worded for the person who asked for it.</summary>
public sealed class ListenSocketException(string message) : Exception(message);
