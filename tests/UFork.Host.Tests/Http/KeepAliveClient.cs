using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace UFork.Host.Tests.Http;

/// <summary>
/// One HTTP/1.1 connection, kept alive across requests, so a test knows which connection (and so which
/// worker) each request went over. Reads Content-Length bodies only, which is what the hello-world
/// endpoint and the test Python worker send.
/// </summary>
internal sealed partial class KeepAliveClient : IDisposable
{
    private readonly Socket _socket;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;

    private KeepAliveClient(Socket socket) => _socket = socket;

    /// <summary>The last response said <c>Connection: close</c>: the server closes the connection after it.</summary>
    public bool ServerWillClose { get; private set; }

    public static Task<KeepAliveClient> ConnectAsync(int port, CancellationToken cancel) =>
        ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancel);

    public static async Task<KeepAliveClient> ConnectAsync(EndPoint endpoint, CancellationToken cancel)
    {
        var socket = endpoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(endpoint, cancel);
            return new KeepAliveClient(socket);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>One request on a new connection, closed after the response.</summary>
    public static async Task<string> GetOnceAsync(int port, string path, CancellationToken cancel)
    {
        using var client = await ConnectAsync(port, cancel);
        return await client.GetAsync(path, cancel, close: true);
    }

    /// <summary>The body of a 200 response; IOException if the connection breaks or the answer is not a 200.</summary>
    public async Task<string> GetAsync(string path, CancellationToken cancel, bool close = false)
    {
        var request = $"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{(close ? "Connection: close\r\n" : "")}\r\n";
        await _socket.SendAsync(Encoding.ASCII.GetBytes(request), cancel);
        var head = await ReadHeadAsync(cancel);
        if (!head.StartsWith("HTTP/1.1 200 ", StringComparison.Ordinal))
            throw new IOException($"unexpected response: {head.Split('\r')[0]}");
        ServerWillClose = ConnectionClose().IsMatch(head);
        var length = ContentLength().Match(head) is { Success: true } match
            ? int.Parse(match.Groups[1].Value)
            : throw new IOException("response without Content-Length");
        return Encoding.UTF8.GetString(await ReadExactlyAsync(length, cancel));
    }

    /// <summary>Reads until the peer closes; true if it closed cleanly (FIN), false if it reset the connection.</summary>
    public async Task<bool> ClosesCleanlyAsync(CancellationToken cancel)
    {
        try
        {
            while (await _socket.ReceiveAsync(_buffer, cancel) > 0)
            {
            }
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return false;
        }
    }

    private async Task<string> ReadHeadAsync(CancellationToken cancel)
    {
        while (true)
        {
            var end = _buffer.AsSpan(_start, _end - _start).IndexOf("\r\n\r\n"u8);
            if (end >= 0)
            {
                var head = Encoding.ASCII.GetString(_buffer, _start, end);
                _start += end + 4;
                return head;
            }
            await FillAsync(cancel);
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int count, CancellationToken cancel)
    {
        var body = new byte[count];
        var copied = 0;
        while (copied < count)
        {
            if (_start == _end)
                await FillAsync(cancel);
            var chunk = Math.Min(count - copied, _end - _start);
            _buffer.AsSpan(_start, chunk).CopyTo(body.AsSpan(copied));
            _start += chunk;
            copied += chunk;
        }
        return body;
    }

    private async Task FillAsync(CancellationToken cancel)
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
            throw new IOException("response head too large");
        var read = await _socket.ReceiveAsync(_buffer.AsMemory(_end), cancel);
        if (read == 0)
            throw new IOException("the server closed the connection");
        _end += read;
    }

    public void Dispose() => _socket.Dispose();

    [GeneratedRegex(@"\r\nConnection: *close\b", RegexOptions.IgnoreCase)]
    private static partial Regex ConnectionClose();

    [GeneratedRegex(@"\r\nContent-Length: *(\d+)", RegexOptions.IgnoreCase)]
    private static partial Regex ContentLength();
}
