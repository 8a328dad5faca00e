using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;

namespace UFork.Http;

/// <summary>
/// The last phase of a stopping worker, before Kestrel stops. Kestrel's own stop closes idle keep-alive
/// connections at once, racing every client that is just sending its next request on one, and closes
/// connections it accepted but has not read yet: those clients see the connection close without an answer.
/// In the lame-duck phase the worker instead accepts no more connections (they wait in the shared backlog
/// for the other workers) and answers each request on the connections it has with <c>Connection: close</c>,
/// so every client gets its answer and reconnects, to another worker. The phase ends when no connection
/// is left, or after a period (a client that sends nothing for all of it is then closed by Kestrel).
/// </summary>
internal sealed class LameDuck : IDisposable
{
    private readonly CancellationTokenSource _stopAccepting = new();
    private readonly Lock _lock = new();
    private int _listenersAccepting;
    private int _openConnections;
    private TaskCompletionSource? _drained;
    private volatile bool _closingConnections;

    /// <summary>Cancelled when the phase begins: the listeners end their accept loops.</summary>
    public CancellationToken StopAccepting => _stopAccepting.Token;

    /// <summary>
    /// Stops accepting, closes each connection after its next answer, and returns once no connection is
    /// left and no listener can accept one any more, or after <paramref name="within"/>.
    /// </summary>
    public async Task DrainAsync(TimeSpan within)
    {
        // Before accepting stops: a connection accepted meanwhile is told to close too.
        _closingConnections = true;
        await _stopAccepting.CancelAsync();
        Task drained;
        lock (_lock)
            drained = IsDrained ? Task.CompletedTask : (_drained ??= new(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        await drained.WaitAsync(within).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <summary>In lame-duck phase, asks the HTTP/1.x client to close the connection after this answer (HTTP/2 has GOAWAY, which Kestrel sends as it stops).</summary>
    public Task Middleware(HttpContext context, RequestDelegate next)
    {
        if (_closingConnections && (HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol)))
            context.Response.Headers.Connection = "close";
        return next(context);
    }

    public void ListenerStarted() => Update(() => _listenersAccepting++);

    public void ListenerStopped() => Update(() => _listenersAccepting--);

    /// <summary>Counted from the moment of accept, so that a connection not yet read keeps the phase going too.</summary>
    public void Accepted(ConnectionContext connection)
    {
        Update(() => _openConnections++);
        connection.ConnectionClosed.Register(() => Update(() => _openConnections--));
    }

    private bool IsDrained => _listenersAccepting == 0 && _openConnections == 0;

    private void Update(Action change)
    {
        TaskCompletionSource? drained = null;
        lock (_lock)
        {
            change();
            if (IsDrained)
                (drained, _drained) = (_drained, null);
        }
        drained?.TrySetResult();
    }

    public void Dispose() => _stopAccepting.Dispose();
}
