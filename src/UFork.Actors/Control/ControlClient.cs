using System.Net.Sockets;
using System.Text;
using Mono.Unix.Native;

namespace UFork.Control;

/// <summary>
/// Sends one command to an arbiter's control socket and returns its answer: <c>ufork ctl</c>'s core. It
/// talks only to a server of its own uid or root, as the kernel reports it (SO_PEERCRED): anyone who
/// could make the socket's path first could otherwise hear the command and answer it.
/// </summary>
public static class ControlClient
{
    private static readonly uint OwnUid = Syscall.geteuid();

    /// <exception cref="ControlClientException">
    /// Nothing listens there, another user's process does, or no answer came within <paramref name="timeout"/>.
    /// </exception>
    public static async Task<(bool Ok, string Output)> SendAsync(string path, string command, bool json, TimeSpan timeout)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        using var deadline = new CancellationTokenSource(timeout);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), deadline.Token);
            var server = PeerCredentials.Of(socket);
            if (server.Uid != OwnUid && server.Uid != 0)
                throw new ControlClientException(
                    $"refused: the socket {path} is served by uid {server.Uid}, not by {(OwnUid == 0 ? "root" : $"uid {OwnUid} or root")}");
            await socket.SendAsync(Encoding.UTF8.GetBytes(ControlProtocol.Request(command, json)), SocketFlags.None, deadline.Token);
            var response = await ReadToEndAsync(socket, deadline.Token);
            return ControlProtocol.ParseResponse(response)
                   ?? throw new ControlClientException($"{path} did not answer like a uFork arbiter");
        }
        catch (OperationCanceledException)
        {
            throw new ControlClientException($"the arbiter at {path} did not answer within {timeout.TotalSeconds:0} s");
        }
        catch (SocketException e)
        {
            throw new ControlClientException(e.SocketErrorCode switch
            {
                _ when !File.Exists(path) => $"no arbiter listens on {path}: there is no such socket",
                SocketError.ConnectionRefused => $"no arbiter listens on {path} (the socket is left from one that died)",
                SocketError.AccessDenied => $"cannot connect to {path}: permission denied (the socket is for the arbiter's user)",
                _ => $"cannot talk to the arbiter at {path}: {e.Message}",
            });
        }
        catch (ArgumentOutOfRangeException)
        {
            throw new ControlClientException($"control socket path {path} is too long (at most 107 bytes)");
        }
    }

    private static async Task<string> ReadToEndAsync(Socket socket, CancellationToken cancel)
    {
        var received = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancel)) > 0)
            received.Write(buffer, 0, read);
        return Encoding.UTF8.GetString(received.GetBuffer(), 0, (int)received.Length);
    }
}
