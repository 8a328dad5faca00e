using System.Net;
using System.Net.Sockets;
using System.Text;
using Akka.Actor;
using Mono.Unix.Native;
using UFork.Hosting;
using UFork.Sockets;

namespace UFork.Metrics;

/// <summary>
/// The arbiter's Prometheus endpoint: <c>GET /metrics</c> on TCP or a unix socket, answered from
/// <see cref="MetricsCollector"/>. The core carries no ASP.NET Core, and HttpListener cannot listen on a unix
/// socket, so this is a small HTTP/1.1 responder of its own: one request per connection (Connection: close),
/// a request head of at most <see cref="MaxHead"/> bytes within <see cref="RequestTimeout"/>, at most
/// <see cref="MaxClients"/> at once (more are closed at once). A client that stalls, floods or speaks
/// garbage loses its own connection and nothing else. The socket is bound in <see cref="Bind"/>, before any
/// worker starts, so that a port in use fails the start with one line.
/// </summary>
internal sealed class MetricsEndpoint : IAsyncDisposable
{
    public const int MaxHead = 8 * 1024;
    public const int MaxClients = 8;
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ScrapeTimeout = TimeSpan.FromSeconds(10);

    private readonly Socket _listener;
    private readonly string? _unixPath;
    private readonly CancellationTokenSource _closing = new();
    private readonly SemaphoreSlim _clients = new(MaxClients);
    private Task _accepting = Task.CompletedTask;

    private MetricsEndpoint(Socket listener, string url, string? unixPath)
    {
        _listener = listener;
        Url = url;
        _unixPath = unixPath;
    }

    /// <summary>Where to scrape, for the arbiter's start line: http://127.0.0.1:9100/metrics, or unix:PATH.</summary>
    public string Url { get; }

    /// <exception cref="ArbiterStartException">The address cannot be bound (in use, not ours, no such host).</exception>
    public static MetricsEndpoint Bind(BindAddress address)
    {
        Socket? socket = null;
        try
        {
            if (address.IsUnix)
            {
                RemoveStaleSocket(address.UnixPath!);
                socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                socket.Bind(new UnixDomainSocketEndPoint(address.UnixPath!));
                socket.Listen(MaxClients);
                return new MetricsEndpoint(socket, $"unix:{address.UnixPath} GET /metrics", address.UnixPath);
            }
            var ip = IPAddress.TryParse(address.Host, out var literal) ? literal
                : Dns.GetHostAddresses(address.Host!).OrderBy(a => a.AddressFamily != AddressFamily.InterNetwork).First();
            socket = new Socket(ip.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(ip, address.Port));
            socket.Listen(MaxClients);
            var bound = (IPEndPoint)socket.LocalEndPoint!;
            return new MetricsEndpoint(socket, $"http://{bound}/metrics", null);
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            socket?.Dispose();
            var why = e is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse } ? "the address is in use" : Lowercase(e.Message);
            throw new ArbiterStartException($"cannot serve metrics on {address}: {why}");
        }
    }

    /// <summary>Starts answering scrapes from <paramref name="collector"/>.</summary>
    public void Serve(IActorRef collector) => _accepting = AcceptAsync(collector);

    private async Task AcceptAsync(IActorRef collector)
    {
        while (!_closing.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptAsync(_closing.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // ECONNABORTED and the like: that client is gone, the next one is not
            }
            if (!_clients.Wait(0))
            {
                client.Dispose();
                continue;
            }
            _ = AnswerAsync(client, collector);
        }
    }

    private async Task AnswerAsync(Socket client, IActorRef collector)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
        timeout.CancelAfter(RequestTimeout + ScrapeTimeout);
        try
        {
            await using var stream = new NetworkStream(client, ownsSocket: true);
            var (status, body) = await RequestLine(stream, timeout.Token) switch
            {
                null => ("400 Bad Request", "a request line within 8 KiB and 5 s, please\n"u8.ToArray()),
                ["GET", var target, _] when target == "/metrics" || target.StartsWith("/metrics?") =>
                    ("200 OK", await collector.Ask<byte[]>(MetricsCollector.Scrape.Instance, ScrapeTimeout)),
                ["GET", _, _] => ("404 Not Found", "metrics are at /metrics\n"u8.ToArray()),
                _ => ("405 Method Not Allowed", "only GET /metrics\n"u8.ToArray()),
            };
            var contentType = status[0] == '2' ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8";
            var head = $"HTTP/1.1 {status}\r\nContent-Type: {contentType}\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head), timeout.Token);
            await stream.WriteAsync(body, timeout.Token);
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or AskTimeoutException)
        {
            // The client went away or stalled, or the arbiter could not answer in time: this connection ends.
        }
        finally
        {
            _clients.Release();
        }
    }

    /// <summary>The request line's method, target and version, once the whole head has come; null for garbage.</summary>
    private static async Task<string[]?> RequestLine(Stream stream, CancellationToken cancel)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        deadline.CancelAfter(RequestTimeout);
        var head = new byte[MaxHead];
        var filled = 0;
        try
        {
            while (filled < head.Length)
            {
                var read = await stream.ReadAsync(head.AsMemory(filled), deadline.Token);
                if (read == 0)
                    return null;
                filled += read;
                var end = head.AsSpan(0, filled).IndexOf("\r\n\r\n"u8);
                if (end < 0)
                    continue;
                var lineEnd = head.AsSpan(0, end + 2).IndexOf("\r\n"u8);
                var parts = Encoding.ASCII.GetString(head, 0, lineEnd).Split(' ');
                return parts.Length == 3 && parts[2].StartsWith("HTTP/1.") ? parts : null;
            }
            return null;
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            return null; // too slow: answered 400, like garbage
        }
    }

    /// <summary>A socket file nobody accepts on is what a killed arbiter leaves; anything else at the path is not ours to remove.</summary>
    private static void RemoveStaleSocket(string path)
    {
        if (Syscall.lstat(path, out var stat) != 0)
            return;
        if ((stat.st_mode & FilePermissions.S_IFMT) != FilePermissions.S_IFSOCK)
            throw new IOException($"{path} exists and is not a socket");
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            if (Syscall.unlink(path) != 0)
                throw new IOException($"cannot remove the stale socket {path}: {Stdlib.strerror(Stdlib.GetLastError())}");
            return;
        }
        throw new SocketException((int)SocketError.AddressAlreadyInUse);
    }

    private static string Lowercase(string message) =>
        message.Length > 1 && char.IsUpper(message[0]) && char.IsLower(message[1]) ? char.ToLowerInvariant(message[0]) + message[1..] : message;

    public async ValueTask DisposeAsync()
    {
        await _closing.CancelAsync();
        _listener.Dispose();
        await _accepting;
        if (_unixPath is not null)
            Syscall.unlink(_unixPath);
    }
}
