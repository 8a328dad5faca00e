using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using UFork.Configuration;
using UFork.Daemon;
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
    private readonly IArbiterConsole? _console;

    private Arbiter(ActorSystem system, ArbiterOptions options, string name, bool ownsSystem, IArbiterConsole? console)
    {
        var exit = new TaskCompletionSource<ArbiterStopped>(TaskCreationOptions.RunContinuationsAsynchronously);
        var listener = system.ActorOf(ExitListener.Props(exit));
        Actor = system.ActorOf(ArbiterActor.Props(options), name);
        listener.Tell(Actor);
        Exit = exit.Task;
        Settings = options.Settings;
        System = system;
        _ownedSystem = ownsSystem ? system : null;
        _console = console;
        Stopped = Actor.WatchAsync();
        CoordinatedStop.Register(system, Actor, Stopped, options.Settings);
    }

    public IActorRef Actor { get; }
    internal ActorSystem System { get; }
    public UForkSettings Settings { get; }

    /// <summary>Completes when the arbiter has stopped, after its last worker was reaped.</summary>
    public Task Stopped { get; }

    /// <summary>How the arbiter stopped: exit code 0 when asked to, or why it halted (its workers could not boot).</summary>
    public Task<ArbiterStopped> Exit { get; }

    /// <summary>
    /// Starts an arbiter as an actor of an existing ActorSystem. When the system stops (Terminate, or its
    /// CoordinatedShutdown), the arbiter stops gracefully first; give the phase
    /// <c>akka.coordinated-shutdown.phases.before-service-unbind.timeout</c> at least
    /// <see cref="UForkSettings.ShutdownGrace"/> plus 5 s, or slow workers are SIGKILLed sooner (a warning says so).
    /// </summary>
    public static Arbiter Start(ActorSystem system, ArbiterOptions options, string name = "ufork", IArbiterConsole? console = null)
    {
        return new Arbiter(system, AroundConsole(options, console), name, ownsSystem: false, console);
    }

    /// <summary>
    /// Starts an arbiter in an ActorSystem of its own, logging into its output sink; <paramref name="console"/>
    /// is shown by <see cref="RunUntilSignalledAsync()"/>.
    /// </summary>
    public static Arbiter Start(ArbiterOptions options, IArbiterConsole? console = null)
    {
        var config = CoordinatedStop.PhaseTimeoutConfig(options.Settings, Config.Empty).WithFallback(ConfigurationFactory.ParseString($$"""
            akka {
              loggers = ["{{typeof(SinkLogger).AssemblyQualifiedName}}"]
              stdout-loglevel = WARNING
              log-dead-letters = off
              log-dead-letters-during-shutdown = off
              coordinated-shutdown.run-by-default-actor-system-terminate = off
              # Heartbeat deadlines are met within a tick; 20 ms keeps them sharp and the wake-ups few.
              scheduler.tick-duration = 20ms
            }
            """));
        var withConsole = AroundConsole(options, console);
        var setup = ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config), new OutputSinkSetup(withConsole.Output));
        var system = ActorSystem.Create("ufork", setup);
        return new Arbiter(system, withConsole, "arbiter", ownsSystem: true, console);
    }

    /// <summary>
    /// Output goes around the console (the ufork> line) whenever <see cref="RunUntilSignalledAsync"/> shows
    /// it. Output to a log file never meets the console, and keeps its own type so that USR1 can reopen it.
    /// </summary>
    private static ArbiterOptions AroundConsole(ArbiterOptions options, IArbiterConsole? console) =>
        console is null || options.Output is IReopenableOutput
            ? options
            : options with { Output = console.Around(options.Output) };

    /// <summary>The workers as they are now; for the C# prompt and REPLs, where <c>arbiter.Workers.Count</c> reads better than a task.</summary>
    public IReadOnlyList<WorkerStatus> Workers => ListWorkersAsync().GetAwaiter().GetResult();

    /// <summary>
    /// Completes once every one of the first <see cref="UForkSettings.Workers"/> slots has a ready worker
    /// (what <c>--daemon</c> waits for before it returns); never, if the arbiter halts first (see <see cref="Exit"/>).
    /// </summary>
    public Task WhenAllReadyAsync()
    {
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        System.ActorOf(StartWatcher.Props(Actor, Settings.Workers, ready));
        return ready.Task;
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
        // Not an Ask: the arbiter stops right after its ShutdownComplete, and an Ask of one already stopping
        // would be a dead letter and a wait for the whole timeout. Nobody drops the reply; Stopped is the answer.
        if (!Stopped.IsCompleted)
            Actor.Tell(Shutdown.Instance, ActorRefs.Nobody);
        await Stopped;
        if (_ownedSystem is not null)
            await _ownedSystem.Terminate();
    }

    /// <summary>
    /// Serves, steered by signals (<see cref="SignalDoor"/>: TERM and INT stop gracefully, QUIT fast, HUP
    /// restarts every worker, TTIN and TTOU scale by one, USR1 reopens the log) until it has stopped;
    /// returns the process exit code. When a person is at the terminal, shows the console (the <c>ufork&gt;</c>
    /// prompt) it was started with meanwhile.
    /// </summary>
    public async Task<int> RunUntilSignalledAsync()
    {
        using var signals = new SignalDoor();
        return await RunUntilSignalledAsync(signals);
    }

    /// <summary><see cref="RunUntilSignalledAsync()"/> with signals caught since before this arbiter started.</summary>
    private async Task<int> RunUntilSignalledAsync(SignalDoor signals)
    {
        using var console = _console?.Show(this, signals);
        signals.Attach(Actor, onStop: () => console?.Close());
        await Stopped;
        await StopAsync();
        return await ExitCodeAsync();
    }

    /// <summary>The stop event is published just before the actor stops; it may reach its listener a moment after.</summary>
    private async Task<int> ExitCodeAsync()
    {
        await Task.WhenAny(Exit, Task.Delay(TimeSpan.FromSeconds(1)));
        return Exit.IsCompletedSuccessfully ? Exit.Result.ExitCode : 0;
    }

    /// <summary>
    /// A pre-fork program in one call. In the arbiter process it starts this same program again as
    /// <see cref="UForkSettings.Workers"/> workers and serves until SIGINT or SIGTERM (detached first,
    /// with a pidfile, control socket and log file, as <see cref="UForkSettings.Daemon"/> and
    /// <see cref="UForkSettings.Log"/> say); inside a worker (UFORK_WORKER_ID is set) it runs
    /// <paramref name="postFork"/> instead.
    /// </summary>
    /// <exception cref="ArbiterStartException">Another arbiter holds the pidfile or control socket.</exception>
    public static Task<int> RunAsync(
        string[] args,
        UForkSettings settings,
        Func<WorkerContext, CancellationToken, Task> postFork,
        ArbiterHooks? hooks = null,
        IArbiterConsole? console = null) =>
        RunAsync(args, settings, [], postFork, hooks, console);

    /// <summary>
    /// <see cref="RunAsync(string[], UForkSettings, Func{WorkerContext, CancellationToken, Task}, ArbiterHooks?, IArbiterConsole?)"/>
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
        ArbiterHooks? hooks = null,
        IArbiterConsole? console = null)
    {
        if (WorkerEnvironment.IsWorker)
            return await WorkerRuntime.RunAsync(postFork, hooks?.ChildPreExit);
        return await ServeAsync(WorkerCommand.SameProgram(args), settings, bind, hooks?.ParentPreStop, console);
    }

    /// <summary>
    /// An arbiter as this process's whole job: detach first when <see cref="UForkSettings.Daemon"/> says so,
    /// claim the pidfile and control socket, bind <paramref name="bind"/> (after detaching, so that only the
    /// daemon holds them), start the workers and serve until signalled or stopped.
    /// </summary>
    /// <exception cref="ArbiterStartException">Another arbiter holds the pidfile or control socket.</exception>
    /// <exception cref="ListenSocketException">An address cannot be bound; no worker was started.</exception>
    public static async Task<int> ServeAsync(
        WorkerCommand command,
        UForkSettings settings,
        IReadOnlyList<BindAddress> bind,
        Func<Task>? parentPreStop = null,
        IArbiterConsole? console = null)
    {
        if (Daemonizer.MustDetach(settings))
            return await Daemonizer.DetachAsync(settings);
        // Before the pidfile and the control socket tell anyone to signal this process: a signal taking its
        // default action now would end it (HUP, USR1) or stop it (TTIN).
        using var signals = new SignalDoor();
        await using var process = ArbiterProcess.Open(settings);
        using var sockets = ListenSockets.Bind(bind, settings.Backlog);
        sockets.Announce(process.Output);
        var arbiter = Start(new ArbiterOptions(command, settings, process.Output, sockets.Sockets, parentPreStop), console);
        process.Attach(arbiter);
        return await arbiter.RunUntilSignalledAsync(signals);
    }

    /// <summary>
    /// For a REPL (<c>dotnet fsi</c>, <c>csharprepl</c>): serves workers running <paramref name="command"/>,
    /// typically a <see cref="WorkerCommand.EntryPoint"/>, with <paramref name="console"/> (the
    /// <c>ufork&gt;</c> prompt: <c>new UForkPrompt()</c> of the UFork.Prompt package), and returns once
    /// Ctrl-C or <c>stop</c> has stopped them all. SIGINT is the arbiter's only while it runs, so the REPL lives on.
    /// </summary>
    public static async Task<int> RunInteractiveAsync(WorkerCommand command, UForkSettings settings, IArbiterConsole? console)
    {
        var output = new TaggedLineWriter(global::System.Console.OpenStandardOutput(), LineFormat.ForStandardOutput(settings.Log.Format));
        try
        {
            return await Start(new ArbiterOptions(command, settings, output, []), console).RunUntilSignalledAsync();
        }
        finally
        {
            OutputWriter.Close(output);
        }
    }
}

/// <summary>ufork's hooks: in the arbiter before workers are told to stop, and in a worker before it exits.</summary>
public sealed record ArbiterHooks(Func<Task>? ParentPreStop = null, Func<Task>? ChildPreExit = null);
