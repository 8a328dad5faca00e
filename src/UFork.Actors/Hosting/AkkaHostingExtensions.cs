using Akka.Actor;
using Akka.Hosting;
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
    /// lines go to <paramref name="output"/>, or to the process's stdout.
    /// </summary>
    public static AkkaConfigurationBuilder WithUFork(
        this AkkaConfigurationBuilder builder,
        WorkerCommand command,
        UForkSettings? settings = null,
        IOutputSink? output = null,
        IReadOnlyList<ListenSocket>? sockets = null,
        string name = "ufork")
    {
        builder.AddHocon(UForkConfig.Defaults, HoconAddMode.Append);
        return builder.WithActors((system, registry) =>
        {
            var options = new ArbiterOptions(
                command,
                settings ?? UForkSettings.FromConfig(system.Settings.Config),
                output ?? new TaggedLineWriter(Console.OpenStandardOutput()),
                sockets ?? []);
            registry.Register<UForkArbiter>(system.ActorOf(ArbiterActor.Props(options), name));
        });
    }
}
