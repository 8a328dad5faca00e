using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.Logging;
using UFork.Configuration;
using UFork.Output;
using UFork.Supervision;
using UFork.Worker;

namespace UFork.Hosting;

/// <summary>Marker for the arbiter in Akka.Hosting's ActorRegistry: <c>registry.Get&lt;UForkArbiter&gt;()</c>.</summary>
public sealed class UForkArbiter;

public static class AkkaHostingExtensions
{
    /// <summary>
    /// Starts an arbiter in the ActorSystem being configured. Settings come from the system's own HOCON
    /// (<c>ufork { }</c>, over uFork's reference.conf) unless <paramref name="settings"/> is given; worker
    /// lines go to <paramref name="output"/>, or to the process's stdout, and the arbiter's own lines through the
    /// host's Microsoft.Extensions.Logging (category <c>UFork.Arbiter</c>).
    /// <para>
    /// When the host stops (or the system terminates), CoordinatedShutdown stops the arbiter gracefully:
    /// <paramref name="parentPreStop"/>, SIGTERM to every worker, the grace period, then SIGKILL. The phase
    /// it runs in is given the grace period plus a margin, as HOCON added before this call says; a grace
    /// period raised by HOCON added after it gets a warning at start.
    /// </para>
    /// </summary>
    public static AkkaConfigurationBuilder WithUFork(
        this AkkaConfigurationBuilder builder,
        WorkerCommand command,
        UForkSettings? settings = null,
        IOutputSink? output = null,
        IReadOnlyList<ListenSocket>? sockets = null,
        string name = "ufork",
        Func<Task>? parentPreStop = null)
    {
        builder.AddHocon(UForkConfig.Defaults, HoconAddMode.Append);
        var configured = builder.Configuration.HasValue ? builder.Configuration.Value : Config.Empty;
        var expected = settings ?? UForkSettings.FromConfig(configured);
        builder.AddHocon(CoordinatedStop.PhaseTimeoutConfig(expected, configured), HoconAddMode.Prepend);
        return builder.WithActors((system, registry, resolver) =>
        {
            var resolved = settings ?? UForkSettings.FromConfig(system.Settings.Config);
            var options = new ArbiterOptions(
                command,
                resolved,
                output ?? new TaggedLineWriter(Console.OpenStandardOutput(), LineFormat.ForStandardOutput(resolved.Log.Format)),
                sockets ?? [],
                parentPreStop,
                resolver.GetService<ILoggerFactory>());
            var arbiter = system.ActorOf(ArbiterActor.Props(options), name);
            CoordinatedStop.Register(system, arbiter, arbiter.WatchAsync(), options.Settings);
            registry.Register<UForkArbiter>(arbiter);
        });
    }
}
