using System.Runtime.InteropServices;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using UFork.Configuration;
using UFork.Output;
using UFork.Runtime;
using UFork.Sockets;
using UFork.Supervision;
using UFork.Worker;

namespace UFork.Hosting;

/// <summary>
/// The arbiter for people who do not want to see actors: start it, list its workers, stop it, or
/// <see cref="RunAsync"/> a whole pre-fork program in one line. Every call is a message to the
/// <see cref="ArbiterActor"/>, which stays reachable as <see cref="Actor"/>.
/// </summary>
public sealed class Arbiter
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);
    private readonly ActorSystem? _ownedSystem;

    private Arbiter(IActorRef actor, UForkSettings settings, ActorSystem? ownedSystem)
    {
        Actor = actor;
        Settings = settings;
        _ownedSystem = ownedSystem;
        Stopped = actor.WatchAsync();
    }

    public IActorRef Actor { get; }
    public UForkSettings Settings { get; }

    /// <summary>Completes when the arbiter has stopped, after its last worker was reaped.</summary>
    public Task Stopped { get; }

    /// <summary>Starts an arbiter as an actor of an existing ActorSystem.</summary>
    public static Arbiter Start(ActorSystem system, ArbiterOptions options, string name = "ufork") =>
        new(system.ActorOf(ArbiterActor.Props(options), name), options.Settings, ownedSystem: null);

    /// <summary>Starts an arbiter in an ActorSystem of its own, logging into its output sink.</summary>
    public static Arbiter Start(ArbiterOptions options)
    {
        var config = ConfigurationFactory.ParseString($$"""
            akka {
              loggers = ["{{typeof(SinkLogger).AssemblyQualifiedName}}"]
              stdout-loglevel = WARNING
              log-dead-letters = off
              log-dead-letters-during-shutdown = off
              coordinated-shutdown.run-by-default-actor-system-terminate = off
            }
            """);
        var setup = ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config), new OutputSinkSetup(options.Output));
        var system = ActorSystem.Create("ufork", setup);
        return new Arbiter(system.ActorOf(ArbiterActor.Props(options), "arbiter"), options.Settings, system);
    }

    public async Task<IReadOnlyList<WorkerStatus>> ListWorkersAsync() =>
        await Actor.Ask<IReadOnlyList<WorkerStatus>>(ListWorkers.Instance, AskTimeout);

    public async Task<IReadOnlyList<DeadWorker>> DeadWorkersAsync() =>
        await Actor.Ask<List<DeadWorker>>(ListDeadWorkers.Instance, AskTimeout);

    public Task<CommandDone> ScaleAsync(int workers) => Actor.Ask<CommandDone>(new Scale(workers), AskTimeout);

    public Task<CommandDone> KillAsync(int slot) => Actor.Ask<CommandDone>(new KillWorker(slot), AskTimeout);

    /// <summary>The graceful stop: parent pre-stop hook, SIGTERM to all, SIGKILL after the grace period.</summary>
    public async Task StopAsync()
    {
        if (!Stopped.IsCompleted)
        {
            try
            {
                await Actor.Ask<ShutdownComplete>(Shutdown.Instance, Settings.ShutdownGrace + AskTimeout);
            }
            catch (AskTimeoutException) when (Stopped.IsCompleted)
            {
            }
        }
        await Stopped;
        if (_ownedSystem is not null)
            await _ownedSystem.Terminate();
    }

    /// <summary>Serves until SIGINT or SIGTERM, then stops gracefully; returns the process exit code.</summary>
    public async Task<int> RunUntilSignalledAsync()
    {
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            _ = StopAsync();
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        await Stopped;
        await StopAsync();
        return 0;
    }

    /// <summary>
    /// A pre-fork program in one call. In the arbiter process it starts this same program again as
    /// <see cref="UForkSettings.Workers"/> workers and serves until SIGINT or SIGTERM; inside a worker
    /// (UFORK_WORKER_ID is set) it runs <paramref name="postFork"/> instead.
    /// </summary>
    public static Task<int> RunAsync(
        string[] args,
        UForkSettings settings,
        Func<WorkerContext, CancellationToken, Task> postFork,
        ArbiterHooks? hooks = null) =>
        RunAsync(args, settings, [], postFork, hooks);

    /// <summary>
    /// <see cref="RunAsync(string[], UForkSettings, Func{WorkerContext, CancellationToken, Task}, ArbiterHooks?)"/>
    /// with listening sockets: the arbiter binds <paramref name="bind"/> before any worker starts and holds
    /// them until it exits; every worker inherits them at fds 3.. (<see cref="WorkerContext.ListenFds"/>).
    /// The addresses, not bound sockets, are taken because the worker runs this same code: only the
    /// arbiter branch may bind.
    /// </summary>
    /// <exception cref="ListenSocketException">An address cannot be bound; no worker was started.</exception>
    public static async Task<int> RunAsync(
        string[] args,
        UForkSettings settings,
        IReadOnlyList<BindAddress> bind,
        Func<WorkerContext, CancellationToken, Task> postFork,
        ArbiterHooks? hooks = null)
    {
        if (WorkerEnvironment.IsWorker)
            return await WorkerRuntime.RunAsync(postFork, hooks?.ChildPreExit);
        using var sockets = ListenSockets.Bind(bind, settings.Backlog);
        using var output = new TaggedLineWriter(Console.OpenStandardOutput());
        sockets.Announce(output);
        var arbiter = Start(new ArbiterOptions(WorkerCommand.SameProgram(args), settings, output, sockets.Sockets, hooks?.ParentPreStop));
        return await arbiter.RunUntilSignalledAsync();
    }
}

/// <summary>ufork's hooks: in the arbiter before workers are told to stop, and in a worker before it exits.</summary>
public sealed record ArbiterHooks(Func<Task>? ParentPreStop = null, Func<Task>? ChildPreExit = null);
