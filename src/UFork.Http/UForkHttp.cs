using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UFork.Configuration;
using UFork.Runtime;

namespace UFork.Http;

/// <summary>
/// Kestrel in a worker, serving the listening sockets the arbiter bound and every worker shares
/// (<see cref="WorkerContext.ListenFds"/>); the kernel spreads connections across the workers. Once Kestrel
/// accepts on those sockets it calls <see cref="WorkerContext.Ready"/>, so a worker counts as ready only when
/// it can answer (during a rolling restart, the worker it replaces serves until then). When
/// <c>stopping</c> is cancelled (SIGTERM) the worker stops accepting and becomes a <see cref="LameDuck"/>
/// for up to <see cref="UForkHttpOptions.LameDuckPeriod"/>, until its clients have been told to reconnect;
/// then Kestrel stops, lets requests still in flight finish within <see cref="UForkHttpOptions.DrainTimeout"/>,
/// and this returns.
/// </summary>
public static class UForkHttp
{
    private static readonly TimeSpan MaxDrainMargin = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxLameDuckPeriod = TimeSpan.FromSeconds(1);

    /// <param name="map">Adds the app's endpoints and middleware, e.g. <c>app => app.MapGet("/", () => "hi")</c>.</param>
    public static async Task ServeAsync(
        WorkerContext worker,
        Action<WebApplication> map,
        CancellationToken stopping,
        UForkHttpOptions? options = null)
    {
        options ??= new UForkHttpOptions();
        if (worker.ListenFds.Count == 0)
            throw new InvalidOperationException("this worker inherited no listening socket: give its arbiter an address to bind (--bind)");

        var grace = WorkerEnvironment.ReadInt(WorkerEnvironment.ShutdownGraceMs) is { } ms
            ? TimeSpan.FromMilliseconds(ms)
            : UForkSettings.Default.ShutdownGrace;
        var lameDuckPeriod = options.LameDuckPeriod ?? DefaultLameDuckPeriod(grace);
        using var lameDuck = new LameDuck();

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        // The console logger formats and locks per message; per-request logging is the access log's job.
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = options.DrainTimeout ?? DefaultDrainTimeout(grace, lameDuckPeriod));
        builder.Services.AddSingleton(_ => new SynchronousHandlerPool(options.SynchronousThreads));
        builder.WebHost.UseSockets(sockets => sockets.Backlog = Backlog(options));
        // The socket transport UseSockets registered, wrapped so that the lame duck can end Kestrel's accept loops.
        builder.Services.RemoveAll<IConnectionListenerFactory>();
        builder.Services.AddSingleton<IConnectionListenerFactory>(services =>
            new LameDuckListenerFactory(ActivatorUtilities.CreateInstance<SocketTransportFactory>(services), lameDuck));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Kestrel wraps a handle without owning it, so stopping cancels its accept without touching
            // the shared socket (no SO_LINGER {1,0}, no close of the other workers' queue).
            foreach (var fd in worker.ListenFds)
                kestrel.ListenHandle((ulong)fd);
        });
        var app = builder.Build();

        app.Use(lameDuck.Middleware);
        using var accessLog = options.AccessLog ? new AccessLog(Console.OpenStandardOutput()) : null;
        if (accessLog is not null)
            app.Use(accessLog.Middleware);
        map(app);

        // app.RunAsync(stopping) would stop Kestrel the moment stopping is cancelled; the lame duck comes first.
        await using (app)
        {
            await app.StartAsync(CancellationToken.None);
            worker.Ready();
            using var stopRequested = CancellationTokenSource.CreateLinkedTokenSource(stopping, app.Lifetime.ApplicationStopping);
            await Task.Delay(Timeout.Infinite, stopRequested.Token).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await lameDuck.DrainAsync(lameDuckPeriod);
            await app.StopAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// Clients under load send their next request within milliseconds, so a short period is enough;
    /// it is taken from the grace period, where a worker past it would be SIGKILLed.
    /// </summary>
    private static TimeSpan DefaultLameDuckPeriod(TimeSpan grace) =>
        grace / 10 < MaxLameDuckPeriod ? grace / 10 : MaxLameDuckPeriod;

    /// <summary>What the grace period leaves after the lame-duck period and a margin, so the worker exits by itself before it would be SIGKILLed.</summary>
    private static TimeSpan DefaultDrainTimeout(TimeSpan grace, TimeSpan lameDuckPeriod)
    {
        var margin = grace / 5 < MaxDrainMargin ? grace / 5 : MaxDrainMargin;
        return grace - margin - lameDuckPeriod;
    }

    private static int Backlog(UForkHttpOptions options) =>
        options.Backlog ?? WorkerEnvironment.ReadInt(WorkerEnvironment.ListenBacklog) ?? UForkSettings.Default.Backlog;
}
