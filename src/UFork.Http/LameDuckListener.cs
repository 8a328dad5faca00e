using System.Net;
using Microsoft.AspNetCore.Connections;

namespace UFork.Http;

/// <summary>
/// One listener of <see cref="LameDuckListenerFactory"/>: it tells Kestrel's accept loop that listening
/// is over (null) once the lame-duck phase begins, and reports each connection it accepted to the
/// <see cref="LameDuck"/>, which waits for them to close.
/// </summary>
internal sealed class LameDuckListener : IConnectionListener
{
    private readonly IConnectionListener _listener;
    private readonly LameDuck _lameDuck;
    private int _stopped;

    public LameDuckListener(IConnectionListener listener, LameDuck lameDuck)
    {
        (_listener, _lameDuck) = (listener, lameDuck);
        lameDuck.ListenerStarted();
    }

    public EndPoint EndPoint => _listener.EndPoint;

    /// <summary>Called by Kestrel's one accept loop for this listener, one call at a time.</summary>
    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lameDuck.StopAccepting);
        ConnectionContext? connection = null;
        try
        {
            // Cancelling a pending accept leaves the shared socket as it is; only this worker stops taking from it.
            if (!stop.IsCancellationRequested)
                connection = await _listener.AcceptAsync(stop.Token);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        // An accept that completed as the phase began is served (and counted) all the same.
        if (connection is not null)
            _lameDuck.Accepted(connection);
        else
            Stop();
        return connection;
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default) => _listener.UnbindAsync(cancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _listener.DisposeAsync();
        Stop();
    }

    private void Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 0)
            _lameDuck.ListenerStopped();
    }
}
