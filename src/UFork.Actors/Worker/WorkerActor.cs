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
    OutputWriter Output,
    IReadOnlyList<ListenSocket> Sockets);

/// <summary>
/// Owns one worker process in one slot. It waits its turn to start, starts the process, echoes what the
/// pipe readers send it, keeps time on heartbeats and resident memory, and kills the process when told
/// to or when it is unhealthy. When the process dies it fails (throws <see cref="WorkerFailedException"/>),
/// and its supervisor, the ArbiterActor, decides by its <see cref="RestartPolicy"/> whether a new
/// incarnation takes the slot.
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
    private bool _spawning;
    private LaunchedWorker? _worker;
    private DateTimeOffset? _backoffUntil;
    private DateTimeOffset? _lastHeartbeat;
    private (DeathCause Cause, string Reason)? _killedFor;
    private TimeSpan? _stopGrace;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(WorkerSlotOptions options) => Akka.Actor.Props.Create(() => new WorkerActor(options));

    private int Slot => _options.Slot;
    private int? Pid => _worker?.Process.Pid;
    private bool Running => _worker is { Process.HasExited: false };

    public WorkerActor(WorkerSlotOptions options)
    {
        _options = options;
        _policy = options.Settings.Restart;

        Receive<BackoffOver>(_ => AskToStart());
        Receive<StartPermitted>(_ => _state == WorkerState.Queued, _ => Spawn());
        Receive<StartPermitted>(_ => { }); // stopped while queued
        Receive<ProcessStarted>(started => OnStarted(started.Worker));
        Receive<SpawnFailed>(failed => Fail(0, ExitStatus.Unknown, TimeSpan.Zero, DeathCause.SpawnFailed,
            $"could not start: {failed.Error.Message}"));
        Receive<Heartbeat>(beat => beat.Pid == Pid, _ => OnHeartbeat());
        Receive<Heartbeat>(_ => { }); // from a previous incarnation's process
        Receive<HeartbeatOverdue>(overdue => overdue.Pid == Pid, _ => Kill(DeathCause.Unresponsive, Silence()));
        Receive<HeartbeatOverdue>(_ => { });
        Receive<CheckMemory>(_ => CheckResidentMemory());
        Receive<KillProcess>(kill => Kill(DeathCause.Killed, kill.Reason));
        Receive<StopWorker>(stop => BeginStop(stop.Grace));
        Receive<GraceExpired>(_ => Kill(DeathCause.Stopped, $"still running {Describe(_stopGrace ?? TimeSpan.Zero)} after SIGTERM"));
        Receive<ProcessExited>(exited => exited.Pid == Pid, OnExited);
        Receive<GetStatus>(_ => Sender.Tell(Status()));
    }

    protected override void PreStart()
    {
        var delay = _policy.DelayBefore(_consecutiveFailures);
        if (delay == TimeSpan.Zero)
        {
            AskToStart();
            return;
        }
        _state = WorkerState.BackingOff;
        _backoffUntil = DateTimeOffset.UtcNow + delay;
        _log.Info("w{0}: {1} failures in a row, restarting in {2}", Slot, _consecutiveFailures, Describe(delay));
        Timers.StartSingleTimer(nameof(BackoffOver), BackoffOver.Instance, delay);
    }

    /// <summary>
    /// A failure while stopping (a sink that threw, a spawn that failed) must not make the slot forget
    /// that it was told to stop: the next incarnation finds the stop in its mailbox.
    /// </summary>
    protected override void PreRestart(Exception reason, object message)
    {
        if (_stopGrace is { } grace)
            Self.Tell(new StopWorker(grace));
        base.PreRestart(reason, message);
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

    /// <summary>
    /// A worker judged by heartbeats waits its turn: the arbiter's StartGate answers StartPermitted.
    /// One judged by liveness alone is healthy as soon as it runs, so it starts at once.
    /// </summary>
    private void AskToStart()
    {
        _backoffUntil = null;
        if (!SpeaksHeartbeat)
        {
            Spawn();
            return;
        }
        _state = WorkerState.Queued;
        Context.Parent.Tell(RequestStart.Instance);
    }

    private bool SpeaksHeartbeat => _options.Command.IsUForkRuntime || _options.Settings.Heartbeat.Required;

    private void Spawn()
    {
        _state = WorkerState.Starting;
        _spawning = true;
        WorkerLauncher.LaunchAsync(_options.Command, Slot, _options.Settings, _options.Sockets)
            .PipeTo(Self, success: w => new ProcessStarted(w), failure: e => new SpawnFailed(e));
    }

    private void OnStarted(LaunchedWorker worker)
    {
        _spawning = false;
        _worker = worker;
        var process = worker.Process;
        var self = Self;
        var tail = new OutputTail(20);
        var stdout = OutputReader.PumpAsync(process.Stdout, Slot, process.Pid, OutputStream.Stdout, _options.Output, tail, _stopped.Token);
        var stderr = OutputReader.PumpAsync(process.Stderr, Slot, process.Pid, OutputStream.Stderr, _options.Output, tail, _stopped.Token);
        _ = HeartbeatReader.PumpAsync(worker.Heartbeats, process.Pid, self);
        _ = ReportExitAsync(process, Task.WhenAll(stdout, stderr), self);
        _log.Info("w{0}: started pid {1}", Slot, process.Pid);
        Context.System.EventStream.Publish(new WorkerStarted(Slot, process.Pid, process.StartedAt));

        if (SpeaksHeartbeat)
            ExpectHeartbeat(_options.Settings.Heartbeat.StartTimeout);
        else
            BecomeHealthy();

        if (_stopGrace is { } grace) // a stop arrived while the process was being spawned
            BeginStop(grace);
    }

    private static async Task ReportExitAsync(ChildProcess process, Task outputDrained, IActorRef self)
    {
        var status = await process.Exited;
        await Task.WhenAny(outputDrained, Task.Delay(OutputDrainLimit));
        self.Tell(new ProcessExited(process.Pid, status));
    }

    private void OnHeartbeat()
    {
        if (_state == WorkerState.Stopping)
            return;
        _lastHeartbeat = DateTimeOffset.UtcNow;
        if (_state == WorkerState.Starting)
            BecomeHealthy();
        ExpectHeartbeat(_options.Settings.Heartbeat.Timeout);
    }

    /// <summary>Tells the arbiter, whose start gate and rolling restarts wait for this.</summary>
    private void BecomeHealthy()
    {
        _state = WorkerState.Ready;
        Context.Parent.Tell(StartFinished.Instance);
    }

    private void ExpectHeartbeat(TimeSpan within) =>
        Timers.StartSingleTimer(nameof(HeartbeatOverdue), new HeartbeatOverdue(Pid!.Value), within);

    /// <summary>How long it has been silent, measured now, and the limit it broke (gunicorn's "WORKER TIMEOUT" says neither).</summary>
    private string Silence()
    {
        var now = DateTimeOffset.UtcNow;
        var heartbeat = _options.Settings.Heartbeat;
        return _lastHeartbeat is { } last
            ? $"sent no heartbeat for {Describe(now - last)} (ufork.heartbeat.timeout = {Describe(heartbeat.Timeout)})"
            : $"sent no first heartbeat in {Describe(now - _worker!.Process.StartedAt)} (ufork.heartbeat.start-timeout = {Describe(heartbeat.StartTimeout)})";
    }

    /// <summary>The arbiter asks every worker at once, so that the whole fleet costs one wake-up a round.</summary>
    private void CheckResidentMemory()
    {
        if (Pid is not { } pid || _options.Command.IsUForkRuntime) // a .NET worker checks itself (Runtime/SelfCheck.cs)
            return;
        var limit = _options.Settings.WorkerMemoryLimit;
        if (ResidentMemory.Of(pid) is { } resident && resident > limit)
            Kill(DeathCause.OverMemoryLimit,
                $"uses {ResidentMemory.Describe(resident)} of resident memory, over ufork.worker.memory-limit ({ResidentMemory.Describe(limit)})");
    }

    private void Kill(DeathCause cause, string reason)
    {
        if (!Running || _killedFor is not null)
            return; // dead, or SIGKILLed already and about to be
        _killedFor = (cause, reason);
        _log.Warning("w{0}: pid {1} {2}; sending SIGKILL", Slot, Pid, reason);
        _worker!.Process.Signal(Signum.SIGKILL);
    }

    private void BeginStop(TimeSpan grace)
    {
        _stopGrace = grace;
        if (_worker is null && !_spawning)
        {
            Context.Stop(Self); // backing off or queued: nothing to stop
            return;
        }
        _state = WorkerState.Stopping;
        Timers.Cancel(nameof(HeartbeatOverdue));
        if (!Running)
            return; // still spawning: OnStarted comes back here
        _worker!.Process.Signal(Signum.SIGTERM);
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
            Context.Parent.Tell(Death(exited.Pid, exited.Status, uptime, DeathCause.Stopped, _killedFor?.Reason ?? "stopped"));
            Context.Stop(Self);
            return;
        }
        var (cause, reason) = _killedFor ?? (DeathCause.Exited, $"exited with {exited.Status}");
        Fail(exited.Pid, exited.Status, uptime, cause, reason);
    }

    private void Fail(int pid, ExitStatus status, TimeSpan uptime, DeathCause cause, string reason)
    {
        var death = Death(pid, status, uptime, cause, reason);
        Context.Parent.Tell(death);
        throw new WorkerFailedException(death, _policy.CountFailure(_consecutiveFailures, uptime), _restarts);
    }

    private DeadWorker Death(int pid, ExitStatus status, TimeSpan uptime, DeathCause cause, string reason) =>
        new(Slot, pid, status, uptime, cause, reason, DateTimeOffset.UtcNow);

    private WorkerStatus Status() => new(
        Slot,
        Pid,
        _state,
        _worker?.Process.StartedAt,
        _restarts,
        DateTimeOffset.UtcNow - _lastHeartbeat,
        Pid is { } pid ? ResidentMemory.Of(pid) : null,
        _backoffUntil);

    private static void Close(LaunchedWorker worker)
    {
        worker.Process.Stdout.Dispose();
        worker.Process.Stderr.Dispose();
        worker.Heartbeats.Dispose();
    }

    internal static string Describe(TimeSpan t) =>
        t.TotalSeconds >= 1 ? $"{t.TotalSeconds:0.##} s" : $"{t.TotalMilliseconds:0} ms";

    private sealed record BackoffOver
    {
        public static BackoffOver Instance { get; } = new();
    }

    private sealed record HeartbeatOverdue(int Pid);

    private sealed record GraceExpired
    {
        public static GraceExpired Instance { get; } = new();
    }
}
