using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using UFork.Configuration;
using UFork.Runtime;

namespace UFork.Http;

/// <summary>
/// Kestrel in a worker, serving the listening sockets the arbiter bound and every worker shares
/// (<see cref="WorkerContext.ListenFds"/>); the kernel spreads connections across the workers. When
/// <c>stopping</c> is cancelled (SIGTERM) Kestrel stops accepting, lets requests in flight finish within
/// <see cref="UForkHttpOptions.DrainTimeout"/>, and this returns.
/// </summary>
public static class UForkHttp
{
    private static readonly TimeSpan MaxDrainMargin = TimeSpan.FromSeconds(1);

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

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        // The console logger formats and locks per message; per-request logging is the access log's job.
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = DrainTimeout(options));
        builder.Services.AddSingleton(_ => new SynchronousHandlerPool(options.SynchronousThreads));
        builder.WebHost.UseSockets(sockets => sockets.Backlog = Backlog(options));
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            // Kestrel wraps a handle without owning it, so stopping cancels its accept without touching
            // the shared socket (no SO_LINGER {1,0}, no close of the other workers' queue).
            foreach (var fd in worker.ListenFds)
                kestrel.ListenHandle((ulong)fd);
        });
        var app = builder.Build();

        using var accessLog = options.AccessLog ? new AccessLog(Console.OpenStandardOutput()) : null;
        if (accessLog is not null)
            app.Use(accessLog.Middleware);
        map(app);
        await app.RunAsync(stopping);
    }

    private static TimeSpan DrainTimeout(UForkHttpOptions options)
    {
        if (options.DrainTimeout is { } explicitTimeout)
            return explicitTimeout;
        var grace = WorkerEnvironment.ReadInt(WorkerEnvironment.ShutdownGraceMs) is { } ms
            ? TimeSpan.FromMilliseconds(ms)
            : UForkSettings.Default.ShutdownGrace;
        var margin = grace / 5 < MaxDrainMargin ? grace / 5 : MaxDrainMargin;
        return grace - margin;
    }

    private static int Backlog(UForkHttpOptions options) =>
        options.Backlog ?? WorkerEnvironment.ReadInt(WorkerEnvironment.ListenBacklog) ?? UForkSettings.Default.Backlog;
}
