using System.Net;
using Microsoft.AspNetCore.Connections;

namespace UFork.Http;

/// <summary>
/// Kestrel's transport (the socket listener factory) with listeners that stop accepting when the
/// <see cref="LameDuck"/> phase begins, while Kestrel goes on serving the connections it has: Kestrel
/// itself can only stop accepting and close its connections in one step.
/// </summary>
internal sealed class LameDuckListenerFactory(IConnectionListenerFactory transport, LameDuck lameDuck) : IConnectionListenerFactory
{
    public async ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default) =>
        new LameDuckListener(await transport.BindAsync(endpoint, cancellationToken), lameDuck);
}
