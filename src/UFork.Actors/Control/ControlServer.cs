using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Text;
using Mono.Unix.Native;
using UFork.Daemon;
using UFork.Hosting;
using UFork.Output;

namespace UFork.Control;

/// <summary>
/// The arbiter's control socket: a Unix socket of mode 0600 that serves only peers of the arbiter's own
/// uid or root, as the kernel reports them (SO_PEERCRED), in the format of <see cref="ControlProtocol"/>.
/// Who may bind it is decided by a lock file beside it, <c>PATH.lock</c>, held for the server's life:
/// of two arbiters starting at once exactly one binds, and a socket file left by a dead one is removed
/// only by the one holding the lock.
/// Every client is served on its own, with its request bounded in size (4 KiB) and time (2 s) and at most
/// 32 at once, so a slow, garbled or hostile client gets an error and holds up neither the arbiter nor
/// another client.
/// </summary>
public sealed class ControlServer : IAsyncDisposable
{
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ClientsDrainLimit = TimeSpan.FromSeconds(2);
    private const int MaxClients = 32;
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
    private static readonly uint OwnUid = Syscall.geteuid();

    private readonly LockFile _lock;
    private readonly Socket _listener;
    private readonly CancellationTokenSource _closing = new();
    private readonly SemaphoreSlim _clientSlots = new(MaxClients);
    private readonly ConcurrentDictionary<Task, bool> _clients = new();
    private Task _accepting = Task.CompletedTask;

    private ControlServer(string path, LockFile pathLock, Socket listener)
    {
        Path = path;
        _lock = pathLock;
        _listener = listener;
    }

    public string Path { get; }

    /// <summary>
    /// Listens at <paramref name="path"/>, replacing a stale socket file; clients wait in the backlog
    /// until <see cref="Serve"/>. The default path's directory is made first, or checked to be private.
    /// </summary>
    /// <exception cref="ArbiterStartException">Another arbiter holds the path, or the socket cannot be made.</exception>
    public static ControlServer Bind(string path)
    {
        if (System.IO.Path.GetDirectoryName(path) == ControlSocketPath.DefaultDirectory)
            PrivateDirectory.Ensure(ControlSocketPath.DefaultDirectory);
        var pathLock = LockFile.TryAcquire(path + ".lock", "control socket lock")
                       ?? throw new ArbiterStartException(HolderPid(path) is { } pid
                           ? $"already running as pid {pid} (control socket {path})"
                           : $"already running (control socket {path} is locked)");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            RemoveStaleSocket(path);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            // Before listen(2), nobody can connect: no moment exists with a wider mode.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            listener.Listen(MaxClients);
            return new ControlServer(path, pathLock, listener);
        }
        catch (Exception e)
        {
            listener.Dispose();
            pathLock.Dispose();
            if (e is SocketException or IOException or UnauthorizedAccessException or ArgumentOutOfRangeException)
                throw new ArbiterStartException(e is ArgumentOutOfRangeException
                    ? $"control socket path {path} is too long (at most 107 bytes)"
                    : $"cannot listen on control socket {path}: {e.Message}");
            throw;
        }
    }

    /// <summary>Starts answering clients with <paramref name="commands"/>; refusals are logged to <paramref name="log"/>.</summary>
    public void Serve(CommandExecutor commands, IOutputSink log) => _accepting = AcceptAsync(commands, log);

    /// <summary>The pid of the arbiter listening at <paramref name="path"/>; null if none answers (yet).</summary>
    private static int? HolderPid(string path)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
            return PeerCredentials.Of(probe).Pid;
        }
        catch (Exception e) when (e is SocketException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>
    /// Under the lock, a socket file there was left by an arbiter that died; one that answers belongs
    /// to an arbiter that does not take the lock (an older uFork), and is left alone.
    /// </summary>
    private static void RemoveStaleSocket(string path)
    {
        if (Syscall.lstat(path, out var stat) != 0)
            return; // nothing there
        if ((stat.st_mode & FilePermissions.S_IFMT) != FilePermissions.S_IFSOCK)
            throw new ArbiterStartException($"control socket path {path} exists and is not a socket");
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(path); // nobody listens: left by an arbiter that was killed
            return;
        }
        catch (SocketException e)
        {
            throw new ArbiterStartException($"cannot use control socket {path}: {e.Message}");
        }
        throw new ArbiterStartException($"already running as pid {PeerCredentials.Of(probe).Pid} (control socket {path})");
    }

    private async Task AcceptAsync(CommandExecutor commands, IOutputSink log)
    {
        while (!_closing.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_closing.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (SocketException e)
            {
                // Out of file descriptors, most likely: say so, and give the process a moment to free some.
                log.WriteLine($"[ufork] warning: control socket {Path}: accept failed: {e.Message}");
                try
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), _closing.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                continue;
            }
            if (!_clientSlots.Wait(0))
            {
                _ = ReplyAndCloseAsync(client, ok: false, $"busy: {MaxClients} clients are being served; try again");
                continue;
            }
            var serving = ServeClientAsync(client, commands, log);
            _clients[serving] = true;
            _ = serving.ContinueWith(done => _clients.TryRemove(done, out _), TaskScheduler.Default);
        }
    }

    private async Task ServeClientAsync(Socket client, CommandExecutor commands, IOutputSink log)
    {
        try
        {
            var peer = PeerCredentials.Of(client);
            if (peer.Uid != OwnUid && peer.Uid != 0)
            {
                log.WriteLine($"[ufork] warning: control socket {Path}: refused pid {peer.Pid} of uid {peer.Uid}");
                await ReplyAndCloseAsync(client, ok: false,
                    $"refused: uid {peer.Uid} may not steer this arbiter (only {(OwnUid == 0 ? "root" : $"uid {OwnUid} and root")} may)");
                return;
            }
            var (request, problem) = await ReadRequestAsync(client);
            if (request is null)
            {
                await ReplyAndCloseAsync(client, ok: false, problem!);
                return;
            }
            var (command, json) = ControlProtocol.ParseRequest(request);
            var (ok, output) = await commands.ExecuteAsync(command, json);
            await ReplyAndCloseAsync(client, ok, output);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The client went away; there is nobody to answer.
        }
        finally
        {
            _clientSlots.Release();
        }
    }

    /// <summary>The request line, or why there is none.</summary>
    private async Task<(string? Line, string? Problem)> ReadRequestAsync(Socket client)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
        deadline.CancelAfter(RequestTimeout);
        var buffer = new byte[ControlProtocol.MaxRequestBytes + 1]; // room for the newline
        var filled = 0;
        while (true)
        {
            var newline = Array.IndexOf(buffer, (byte)'\n', 0, filled);
            if (newline >= 0)
                return Decode(buffer.AsSpan(0, newline));
            if (filled == buffer.Length)
                return (null, $"request longer than {ControlProtocol.MaxRequestBytes} bytes");
            int read;
            try
            {
                read = await client.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                return (null, _closing.IsCancellationRequested
                    ? "the arbiter is stopping"
                    : $"no request line within {RequestTimeout.TotalSeconds:0} s");
            }
            if (read == 0) // the client closed its side: what came is the request
                return filled > 0 ? Decode(buffer.AsSpan(0, filled)) : (null, "empty request");
            filled += read;
        }
    }

    private static (string? Line, string? Problem) Decode(ReadOnlySpan<byte> line)
    {
        try
        {
            return (StrictUtf8.GetString(line).TrimEnd('\r'), null);
        }
        catch (DecoderFallbackException)
        {
            return (null, "request is not UTF-8 text");
        }
    }

    /// <summary>
    /// Sends the reply, then waits (bounded) for the client to close first while discarding whatever
    /// else it sent: a Unix socket closed with unread data resets the connection, and the reply with it.
    /// </summary>
    private static async Task ReplyAndCloseAsync(Socket client, bool ok, string output)
    {
        using (client)
        {
            using var deadline = new CancellationTokenSource(ReplyTimeout);
            try
            {
                await client.SendAsync(Encoding.UTF8.GetBytes(ControlProtocol.Response(ok, output)), SocketFlags.None, deadline.Token);
                client.Shutdown(SocketShutdown.Send);
                var discard = new byte[ControlProtocol.MaxRequestBytes];
                while (await client.ReceiveAsync(discard, SocketFlags.None, deadline.Token) > 0)
                {
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                // Gone, or not reading: either way it has had its chance.
            }
        }
    }

    /// <summary>
    /// Stops accepting, removes the socket file and lets go of its lock, and gives clients being served a
    /// moment to get their answer.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        await _accepting;
        _listener.Dispose();
        File.Delete(Path);
        _lock.Dispose();
        try
        {
            await Task.WhenAll(_clients.Keys).WaitAsync(ClientsDrainLimit);
        }
        catch (TimeoutException)
        {
            // A client still waiting on the arbiter, which is gone: it will see the connection close.
        }
    }
}
