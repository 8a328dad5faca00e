using Akka.Actor;
using Akka.Event;
using Mono.Unix.Native;
using UFork.Configuration;
using UFork.Output;
using UFork.Spawning;
using UFork.Supervision;

namespace UFork.Worker;

/// <summary>Everything a WorkerActor needs to know about its slot.</summary>
internal sealed record WorkerSlotOptions(
    int Slot,
    WorkerCommand Command,
    UForkSettings Settings,
    IOutputSink Output,
    IReadOnlyList<ListenSocket> Sockets);

/// <summary>
/// Owns one worker process in one slot. It starts the process, echoes what the pipe readers send it,
/// keeps time on heartbeats, and kills the process when told to or when it falls silent. When the process
/// dies it fails (throws <see cref="WorkerFailedException"/>), and its supervisor, the ArbiterActor,
/// decides by its <see cref="RestartPolicy"/> whether a new incarnation takes the slot.
/// </summary>
internal sealed class WorkerActor : ReceiveActor, IWithTimers
{
    // A grandchild that inherited the worker's stdout can keep the pipe open after the worker dies;
    // its death is reported after this long even if the pipe has not reached EOF.
    private static readonly TimeSpan OutputDrainLimit = TimeSpan.FromSeconds(1);

    private readonly WorkerSlotOptions _options;
    private readonly RestartPolicy _policy;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly CancellationTokenSource _stopped = new();

    private int _consecutiveFailures;
    private int _restarts;
    private WorkerState _state;
    private LaunchedWorker? _worker;
    private DateTimeOffset? _backoffUntil;
    private DateTimeOffset? _lastHeartbeat;
    private string? _killReason;
    private TimeSpan? _stopGrace;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(WorkerSlotOptions options) => Akka.Actor.Props.Create(() => new WorkerActor(options));

    private int Slot => _options.Slot;
    private int? Pid => _worker?.Process.Pid;

    public WorkerActor(WorkerSlotOptions options)
    {
        _options = options;
        _policy = options.Settings.Restart;

        Receive<SpawnNow>(_ => Spawn());
        Receive<ProcessStarted>(started => OnStarted(started.Worker));
        Receive<SpawnFailed>(failed => Fail(0, ExitStatus.Unknown, TimeSpan.Zero, $"could not start: {failed.Error.Message}"));
        Receive<OutputLines>(Echo);
        Receive<Heartbeat>(beat => beat.Pid == Pid, _ => OnHeartbeat());
        Receive<Heartbeat>(_ => { }); // from a previous incarnation's process
        Receive<HeartbeatOverdue>(overdue => overdue.Pid == Pid && _worker is { Process.HasExited: false },
            overdue => Kill(overdue.Reason));
        Receive<HeartbeatOverdue>(_ => { });
        Receive<KillProcess>(kill => Kill(kill.Reason));
        Receive<StopWorker>(stop => BeginStop(stop.Grace));
        Receive<GraceExpired>(_ => Kill($"still running {_stopGrace?.TotalSeconds:0.#} s after SIGTERM"));
        Receive<ProcessExited>(exited => exited.Pid == Pid, OnExited);
        Receive<GetStatus>(_ => Sender.Tell(Status()));
    }

    protected override void PreStart()
    {
        var delay = _policy.DelayBefore(_consecutiveFailures);
        if (delay == TimeSpan.Zero)
        {
            Spawn();
            return;
        }
        _state = WorkerState.BackingOff;
        _backoffUntil = DateTimeOffset.UtcNow + delay;
        _log.Info("w{0}: {1} failures in a row, restarting in {2}", Slot, _consecutiveFailures, Describe(delay));
        Timers.StartSingleTimer(nameof(SpawnNow), SpawnNow.Instance, delay);
    }

    protected override void PostRestart(Exception reason)
    {
        if (reason is WorkerFailedException failure)
        {
            _consecutiveFailures = failure.ConsecutiveFailures;
            _restarts = failure.Restarts + 1;
        }
        base.PostRestart(reason);
    }

    protected override void PostStop()
    {
        _stopped.Cancel();
        if (_worker is { } worker)
        {
            // Stopped without a graceful StopWorker (the ActorSystem is going down): leave no orphan.
            worker.Process.Signal(Signum.SIGKILL);
            Close(worker);
        }
    }

    private void Spawn()
    {
        _state = WorkerState.Starting;
        _backoffUntil = null;
        WorkerLauncher.LaunchAsync(_options.Command, Slot, _options.Settings, _options.Sockets)
            .PipeTo(Self, success: w => new ProcessStarted(w), failure: e => new SpawnFailed(e));
    }

    private void OnStarted(LaunchedWorker worker)
    {
        _worker = worker;
        var process = worker.Process;
        var self = Self;
        var stdout = OutputReader.PumpAsync(process.Stdout, process.Pid, OutputStream.Stdout, self, _stopped.Token);
        var stderr = OutputReader.PumpAsync(process.Stderr, process.Pid, OutputStream.Stderr, self, _stopped.Token);
        _ = HeartbeatReader.PumpAsync(worker.Heartbeats, process.Pid, self);
        _ = ReportExitAsync(process, Task.WhenAll(stdout, stderr), self);
        _log.Info("w{0}: started pid {1}", Slot, process.Pid);
        Context.System.EventStream.Publish(new WorkerStarted(Slot, process.Pid, process.StartedAt));

        var heartbeat = _options.Settings.Heartbeat;
        if (_options.Command.IsUForkRuntime || heartbeat.Required)
            ExpectHeartbeat(heartbeat.StartTimeout, "sent no first heartbeat");
        else
            _state = WorkerState.Healthy;

        if (_stopGrace is { } grace) // a stop arrived while the process was being spawned
            BeginStop(grace);
    }

    private static async Task ReportExitAsync(ChildProcess process, Task outputDrained, IActorRef self)
    {
        var status = await process.Exited;
        await Task.WhenAny(outputDrained, Task.Delay(OutputDrainLimit));
        self.Tell(new ProcessExited(process.Pid, status));
    }

    private void Echo(OutputLines output)
    {
        _options.Output.WriteLines(Slot, output.Pid, output.Stream, output.Lines);
        output.Written.TrySetResult();
    }

    private void OnHeartbeat()
    {
        _lastHeartbeat = DateTimeOffset.UtcNow;
        if (_state == WorkerState.Starting)
            _state = WorkerState.Healthy;
        ExpectHeartbeat(_options.Settings.Heartbeat.Timeout, "stopped sending heartbeats");
    }

    private void ExpectHeartbeat(TimeSpan within, string failure)
    {
        var reason = $"{failure} for {Describe(within)}";
        Timers.StartSingleTimer(nameof(HeartbeatOverdue), new HeartbeatOverdue(Pid!.Value, reason), within);
    }

    private void Kill(string reason)
    {
        if (_worker is not { Process.HasExited: false } worker)
            return;
        _killReason ??= reason;
        _log.Warning("w{0}: pid {1} {2}; sending SIGKILL", Slot, worker.Process.Pid, reason);
        worker.Process.Signal(Signum.SIGKILL);
    }

    private void BeginStop(TimeSpan grace)
    {
        _stopGrace = grace;
        if (_worker is null && _state == WorkerState.BackingOff)
        {
            Context.Stop(Self);
            return;
        }
        _state = WorkerState.Stopping;
        Timers.Cancel(nameof(HeartbeatOverdue));
        if (_worker is not { Process.HasExited: false } worker)
            return; // still spawning: OnStarted comes back here
        worker.Process.Signal(Signum.SIGTERM);
        Timers.StartSingleTimer(nameof(GraceExpired), GraceExpired.Instance, grace);
    }

    private void OnExited(ProcessExited exited)
    {
        var worker = _worker!;
        var uptime = DateTimeOffset.UtcNow - worker.Process.StartedAt;
        Close(worker);
        _worker = null;
        if (_stopGrace is not null)
        {
            Context.Parent.Tell(new DeadWorker(Slot, exited.Pid, exited.Status, uptime, "stopped", DateTimeOffset.UtcNow));
            Context.Stop(Self);
            return;
        }
        Fail(exited.Pid, exited.Status, uptime, _killReason is null ? $"exited with {exited.Status}" : $"killed: {_killReason}");
    }

    private void Fail(int pid, ExitStatus status, TimeSpan uptime, string reason)
    {
        var death = new DeadWorker(Slot, pid, status, uptime, reason, DateTimeOffset.UtcNow);
        Context.Parent.Tell(death);
        throw new WorkerFailedException(death, _policy.CountFailure(_consecutiveFailures, uptime), _restarts);
    }

    private WorkerStatus Status() => new(
        Slot,
        Pid,
        _state,
        _worker?.Process.StartedAt,
        _restarts,
        DateTimeOffset.UtcNow - _lastHeartbeat,
        _backoffUntil);

    private static void Close(LaunchedWorker worker)
    {
        worker.Process.Stdout.Dispose();
        worker.Process.Stderr.Dispose();
        worker.Heartbeats.Dispose();
    }

    internal static string Describe(TimeSpan t) =>
        t.TotalSeconds >= 1 ? $"{t.TotalSeconds:0.##} s" : $"{t.TotalMilliseconds:0} ms";

    private sealed record SpawnNow
    {
        public static SpawnNow Instance { get; } = new();
    }

    private sealed record HeartbeatOverdue(int Pid, string Reason);

    private sealed record GraceExpired
    {
        public static GraceExpired Instance { get; } = new();
    }
}
