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
    IReadOnlyList<ListenSocket> Sockets,
    CancellationToken ArbiterStopped,
    Microsoft.Extensions.Logging.ILoggerFactory? Logging = null);

/// <summary>
/// Owns one worker process in one slot, through the life below; each state is a behaviour of its own.
/// <code>
///              first start                                       StopWorker (from any state)
///                   │                                                     │
///                   ▼        StartPermitted              ready            ▼
///   ┌──────────► Queued ─────────────► Spawning ─► Starting ─────► Ready ─► Stopping ─► (actor stops)
///   │               ▲                      │          │              │          exit
///   │   BackOff(0)  │ delay over           │ failed   │ died, killed │
///   │               │                      ▼          ▼              ▼
///   │          BackingOff ◄── BackOff(d) ── AwaitingPlan  ◄── failure: Akka restarts the actor, and
///   │                                          │                the WorkerSupervisorStrategy sends
///   └────────────── Revive ─────── Failed ◄── GiveUp             the new incarnation its plan
/// </code>
/// A process that dies without being asked to is a failure of this actor (it throws
/// <see cref="WorkerFailedException"/>); its supervisor decides what comes next. Pipe readers never touch
/// its state: they send messages, and the output goes straight to the <see cref="OutputWriter"/>.
/// </summary>
internal sealed class WorkerActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    // A grandchild that inherited the worker's stdout can keep the pipe open after the worker dies, and
    // a stuck terminal can hold the last lines: the death is reported after this long regardless, and
    // the rest of the output is echoed as it comes.
    private static readonly TimeSpan OutputDrainLimit = TimeSpan.FromSeconds(1);
    private const int TailLines = 20;

    private readonly WorkerSlotOptions _options;
    private readonly ILoggingAdapter _log;

    private WorkerState _state;
    private int _restarts;
    private LaunchedWorker? _worker;
    private OutputTail? _tail;
    private ProcessFigures? _figures;
    private bool _wasReady;
    private DateTimeOffset? _backoffUntil;
    private DateTimeOffset? _lastHeartbeat;
    private long _heartbeats;
    private (DeathCause Cause, string Reason)? _killedFor;
    private string? _failedBecause;

    public ITimerScheduler Timers { get; set; } = null!;
    public IStash Stash { get; set; } = null!;

    public static Props Props(WorkerSlotOptions options) => Akka.Actor.Props.Create(() => new WorkerActor(options));

    private int Slot => _options.Slot;
    private int? Pid => _worker?.Process.Pid;
    private HeartbeatSettings Heartbeat => _options.Settings.Heartbeat;

    /// <summary>
    /// A .NET worker says when it is ready, and so must one told to (ufork.heartbeat.required); those wait
    /// their turn at the arbiter's start gate. Any other command may say so too, and is ready anyway once
    /// it has stayed up ufork.worker.start-seconds; it starts at once.
    /// </summary>
    private bool MustSayReady => _options.Command.IsUForkRuntime || Heartbeat.Required;

    public WorkerActor(WorkerSlotOptions options)
    {
        _options = options;
        _log = ArbiterLog.For(Context, options.Logging);
    }

    protected override void PreStart() => Queue();

    /// <summary>The old incarnation's process is dead and reaped: nothing of it to clean up here.</summary>
    protected override void PreRestart(Exception reason, object message)
    {
    }

    protected override void PostRestart(Exception reason) => AwaitPlan();

    protected override void PostStop()
    {
        if (_worker is { } worker)
        {
            // Stopped without a graceful StopWorker (the ActorSystem is going down hard): leave no orphan.
            worker.Process.Signal(Signum.SIGKILL);
            worker.Heartbeats.Dispose();
        }
    }

    // ── the states ──────────────────────────────────────────────────────────────────────────────────

    /// <summary>Restarted after a failure; the strategy's plan is on its way. Anything else waits for it.</summary>
    private void AwaitPlan()
    {
        Enter(WorkerState.BackingOff, () =>
        {
            Receive<BackOff>(plan =>
            {
                _restarts = plan.Restarts;
                Stash.UnstashAll();
                if (plan.Delay == TimeSpan.Zero)
                    Queue();
                else
                    BackingOff(plan);
            });
            Receive<GiveUp>(plan =>
            {
                _restarts = plan.Restarts;
                Stash.UnstashAll();
                Failed(plan.Reason);
            });
            Receive<GetStatus>(_ => Sender.Tell(Status()));
            ReceiveAny(_ => Stash.Stash());
        });
    }

    private void BackingOff(BackOff plan)
    {
        _backoffUntil = DateTimeOffset.UtcNow + plan.Delay;
        _log.Info("w{0}: {1} failures in a row, restarting in {2}", Slot, plan.ConsecutiveFailures, Describe(plan.Delay));
        Timers.StartSingleTimer(nameof(BackoffOver), BackoffOver.Instance, plan.Delay);
        Enter(WorkerState.BackingOff, () =>
        {
            Receive<BackoffOver>(_ =>
            {
                _backoffUntil = null;
                Queue();
            });
            ReceiveStopBeforeSpawn();
        });
    }

    /// <summary>Waits its turn at the arbiter's start gate; a worker that need not say it is ready starts at once.</summary>
    private void Queue()
    {
        if (!MustSayReady)
        {
            Spawn();
            return;
        }
        Context.Parent.Tell(RequestStart.Instance);
        Enter(WorkerState.Queued, () =>
        {
            Receive<StartPermitted>(_ => Spawn());
            ReceiveStopBeforeSpawn();
        });
    }

    /// <summary>The process reactor is starting it; a stop or a kill waits until there is a pid.</summary>
    private void Spawn()
    {
        WorkerLauncher.LaunchAsync(_options.Command, Slot, _options.Settings, _options.Sockets)
            .PipeTo(Self, success: w => new ProcessStarted(w), failure: e => new SpawnFailed(e));
        Enter(WorkerState.Starting, () =>
        {
            Receive<ProcessStarted>(started =>
            {
                Started(started.Worker);
                Stash.UnstashAll();
            });
            Receive<SpawnFailed>(failed =>
            {
                Stash.UnstashAll();
                Fail(new DeadWorker(Slot, 0, ExitStatus.Unknown, TimeSpan.Zero, DeathCause.SpawnFailed,
                    $"could not start: {failed.Error.Message}", DateTimeOffset.UtcNow));
            });
            Receive<GetStatus>(_ => Sender.Tell(Status()));
            Receive<CheckMemory>(_ => { });
            ReceiveAny(_ => Stash.Stash());
        });
    }

    private void Started(LaunchedWorker worker)
    {
        _worker = worker;
        _killedFor = null;
        _lastHeartbeat = null;
        _wasReady = false;
        _tail = new OutputTail(TailLines);
        var process = worker.Process;
        _figures = new ProcessFigures(process.Pid, process.StartedAt);
        var self = Self;
        // Said before the output is read: its first line is then written after this one.
        _log.Info("w{0}: started pid {1}", Slot, process.Pid);
        var stdout = OutputReader.PumpAsync(process.Stdout, Slot, process.Pid, OutputStream.Stdout, _options.Output, _tail, _figures, _options.ArbiterStopped);
        var stderr = OutputReader.PumpAsync(process.Stderr, Slot, process.Pid, OutputStream.Stderr, _options.Output, _tail, _figures, _options.ArbiterStopped);
        var outputDrained = Task.WhenAll(stdout, stderr);
        _ = outputDrained.ContinueWith(_ =>
        {
            process.Stdout.Dispose();
            process.Stderr.Dispose();
        }, TaskScheduler.Default);
        _ = HeartbeatReader.PumpAsync(worker.Heartbeats, process.Pid, self);
        _ = ReportExitAsync(process, outputDrained, self);
        Context.System.EventStream.Publish(new WorkerStarted(Slot, process.Pid, process.StartedAt));
        Starting();
    }

    /// <summary>Running, not yet ready: it has ufork.heartbeat.start-timeout to say so.</summary>
    private void Starting()
    {
        Timers.StartSingleTimer(nameof(StartTimedOut), new StartTimedOut(Pid!.Value), Heartbeat.StartTimeout);
        if (!MustSayReady)
            Timers.StartSingleTimer(nameof(StayedUp), new StayedUp(Pid!.Value), _options.Settings.WorkerStartSeconds);
        Enter(WorkerState.Starting, () =>
        {
            Receive<ReadyReported>(ready => ready.Pid == Pid, _ => BecomeReady("said it is ready"));
            Receive<StayedUp>(up => up.Pid == Pid, _ => BecomeReady($"stayed up {Describe(_options.Settings.WorkerStartSeconds)}"));
            Receive<Heartbeat>(beat => beat.Pid == Pid, _ => NoteHeartbeat());
            Receive<StartTimedOut>(timeout => timeout.Pid == Pid, _ => Kill(DeathCause.Unresponsive,
                $"was not ready within {Describe(Heartbeat.StartTimeout)} (ufork.heartbeat.start-timeout)"));
            ReceiveWhileRunning();
        });
    }

    private void BecomeReady(string how)
    {
        Timers.Cancel(nameof(StartTimedOut));
        Timers.Cancel(nameof(StayedUp));
        _wasReady = true;
        _log.Info("w{0}: pid {1} is ready ({2})", Slot, Pid, how);
        var ready = new WorkerReady(Slot, Pid!.Value, DateTimeOffset.UtcNow);
        Context.Parent.Tell(ready);
        Context.System.EventStream.Publish(ready);
        if (MustSayReady || _lastHeartbeat is not null)
            ExpectHeartbeat();
        Enter(WorkerState.Ready, () =>
        {
            Receive<Heartbeat>(beat => beat.Pid == Pid, _ =>
            {
                NoteHeartbeat();
                ExpectHeartbeat();
            });
            Receive<ReadyReported>(_ => { });
            Receive<HeartbeatOverdue>(overdue => overdue.Pid == Pid, overdue => ConfirmSilence(overdue.HeartbeatsSeen));
            Receive<SilenceConfirmed>(silence => silence.Pid == Pid, silence => JudgeSilence(silence.HeartbeatsSeen));
            ReceiveWhileRunning();
        });
    }

    /// <summary>SIGTERM sent: the process has the grace period to exit, then it is SIGKILLed.</summary>
    private void Stopping(TimeSpan grace)
    {
        Timers.Cancel(nameof(StartTimedOut));
        Timers.Cancel(nameof(StayedUp));
        Timers.Cancel(nameof(HeartbeatOverdue));
        _worker!.Process.Signal(Signum.SIGTERM);
        Timers.StartSingleTimer(nameof(GraceExpired), new GraceExpired(grace), grace);
        Enter(WorkerState.Stopping, () =>
        {
            Receive<ProcessExited>(exited => exited.Pid == Pid, exited =>
            {
                var death = Death(exited, DeathCause.Stopped, _killedFor?.Reason ?? "stopped");
                Context.Parent.Tell(death);
                Context.Stop(Self);
            });
            Receive<GraceExpired>(expired => Kill(DeathCause.Stopped, $"still running {Describe(expired.Grace)} after SIGTERM"));
            Receive<KillProcess>(kill => Kill(DeathCause.Stopped, kill.Reason));
            Receive<StopWorker>(stop => stop.Grace < grace, stop =>
            {
                grace = stop.Grace; // a fast stop overtakes a graceful one
                Timers.StartSingleTimer(nameof(GraceExpired), new GraceExpired(grace), grace);
            });
            Receive<StopWorker>(_ => { });
            Receive<GetStatus>(_ => Sender.Tell(Status()));
            Receive<MetricsReported>(report => report.Pid == Pid, NoteMetrics); // a draining server still counts its requests
            ReceiveAny(_ => { }); // heartbeats, readiness and memory no longer matter
        });
    }

    /// <summary>Given up on: no process; shown in status until a person brings it back.</summary>
    private void Failed(string reason)
    {
        _failedBecause = reason;
        _log.Error("w{0}: giving up after {1}; the slot stays failed until `restart {0}` or `scale`", Slot, reason);
        Enter(WorkerState.Failed, () =>
        {
            Receive<Revive>(_ =>
            {
                _failedBecause = null;
                _log.Info("w{0}: brought back", Slot);
                Queue();
            });
            ReceiveStopBeforeSpawn();
        });
    }

    // ── what several states share ───────────────────────────────────────────────────────────────────

    /// <summary>Backing off, queued or failed: there is no process, so a stop is immediate.</summary>
    private void ReceiveStopBeforeSpawn()
    {
        Receive<StopWorker>(_ => Context.Stop(Self));
        Receive<GetStatus>(_ => Sender.Tell(Status()));
        ReceiveAny(_ => { }); // a kill with nothing to kill, a previous process's heartbeats, memory rounds
    }

    /// <summary>Starting or ready: a process runs.</summary>
    private void ReceiveWhileRunning()
    {
        Receive<ProcessExited>(exited => exited.Pid == Pid, OnDied);
        Receive<StopWorker>(stop => Stopping(stop.Grace));
        Receive<KillProcess>(kill => Kill(DeathCause.Killed, kill.Reason));
        Receive<CheckMemory>(_ => CheckResidentMemory());
        Receive<GetStatus>(_ => Sender.Tell(Status()));
        Receive<MetricsReported>(report => report.Pid == Pid, NoteMetrics);
        ReceiveAny(_ => { }); // reports about a previous incarnation's process
    }

    private void Enter(WorkerState state, Action behaviour)
    {
        _state = state;
        Become(behaviour);
    }

    // ── reports from the process ────────────────────────────────────────────────────────────────────

    private static async Task ReportExitAsync(ChildProcess process, Task outputDrained, IActorRef self)
    {
        ExitStatus status;
        try
        {
            status = await process.Exited;
        }
        catch (IOException)
        {
            // The process reactor failed and can watch no process (its fault is logged with every spawn):
            // one that cannot be watched is killed rather than left running unseen.
            Syscall.kill(-process.Pid, Signum.SIGKILL);
            status = ExitStatus.Unknown;
        }
        var uptime = (process.ExitedAt ?? DateTimeOffset.UtcNow) - process.StartedAt;
        await Task.WhenAny(outputDrained, Task.Delay(OutputDrainLimit));
        self.Tell(new ProcessExited(process.Pid, status, uptime));
    }

    /// <summary>Kept for status and top, and published for the metrics endpoint, which keeps every slot's totals.</summary>
    private void NoteMetrics(MetricsReported report)
    {
        _figures!.Note(report);
        Context.System.EventStream.Publish(new WorkerInstruments(Slot, report.Pid, report.Snapshot));
    }

    private void NoteHeartbeat()
    {
        _lastHeartbeat = DateTimeOffset.UtcNow;
        _heartbeats++;
    }

    private void ExpectHeartbeat() =>
        Timers.StartSingleTimer(nameof(HeartbeatOverdue), new HeartbeatOverdue(Pid!.Value, _heartbeats), Heartbeat.Timeout);

    /// <summary>
    /// The timer says the worker has been silent too long; but an arbiter that was paused (SIGSTOP, a
    /// frozen VM) finds beats unread in the pipe, or just read and queued behind the timer. Those count:
    /// the verdict waits for one more trip through the mailbox.
    /// </summary>
    private void ConfirmSilence(long heartbeatsSeen)
    {
        if (_worker!.HasUnreadHeartbeats)
        {
            NoteHeartbeat();
            ExpectHeartbeat();
            return;
        }
        Self.Tell(new SilenceConfirmed(Pid!.Value, heartbeatsSeen));
    }

    private void JudgeSilence(long heartbeatsSeen)
    {
        if (_heartbeats != heartbeatsSeen || _worker!.HasUnreadHeartbeats)
            return; // a beat came after all; its own timer is running
        Kill(DeathCause.Unresponsive, Silence());
    }

    /// <summary>How long it has been silent, measured now, and the limit it broke (gunicorn's "WORKER TIMEOUT" says neither).</summary>
    private string Silence()
    {
        var since = _lastHeartbeat ?? _worker!.Process.StartedAt;
        return $"sent no heartbeat for {Describe(DateTimeOffset.UtcNow - since)} (ufork.heartbeat.timeout = {Describe(Heartbeat.Timeout)})";
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
        if (_worker is not { Process.HasExited: false } worker || _killedFor is not null)
            return; // dead, or SIGKILLed already and about to be reaped
        _killedFor = (cause, reason);
        _log.Warning("w{0}: pid {1} {2}; sending SIGKILL", Slot, worker.Process.Pid, reason);
        worker.Process.Signal(Signum.SIGKILL);
    }

    /// <summary>Died without being asked to stop: a failure, for the supervisor to rule on.</summary>
    private void OnDied(ProcessExited exited)
    {
        var (cause, reason) = _killedFor ?? (DeathCause.Exited, exited.Status.ToString());
        Fail(Death(exited, cause, reason));
    }

    private void Fail(DeadWorker death)
    {
        Timers.CancelAll();
        _worker?.Heartbeats.Dispose();
        _worker = null;
        Context.Parent.Tell(death);
        throw new WorkerFailedException(death);
    }

    private DeadWorker Death(ProcessExited exited, DeathCause cause, string reason)
    {
        if (cause == DeathCause.Stopped)
            _worker!.Heartbeats.Dispose();
        return new DeadWorker(Slot, exited.Pid, exited.Status, exited.Uptime, cause, reason, DateTimeOffset.UtcNow,
            _wasReady, _tail?.Lines);
    }

    private WorkerStatus Status()
    {
        var running = _worker is not null && _state is WorkerState.Starting or WorkerState.Ready or WorkerState.Stopping;
        var cpu = running ? _figures?.CpuTime() : null;
        return new WorkerStatus(
            Slot,
            Pid,
            _state,
            _worker?.Process.StartedAt,
            _restarts,
            DateTimeOffset.UtcNow - _lastHeartbeat,
            Pid is { } pid ? ResidentMemory.Of(pid) : null,
            _state == WorkerState.BackingOff ? _backoffUntil : null,
            _failedBecause)
        {
            CpuTime = cpu,
            CpuPercent = running ? _figures?.CpuPercent(cpu) : null,
            RequestsPerSecond = running ? _figures?.RequestsPerSecond : null,
            OutputLines = _figures?.OutputLines ?? 0,
            OutputBytes = _figures?.OutputBytes ?? 0,
        };
    }

    internal static string Describe(TimeSpan t) => Wording.Duration(t);

    private sealed record BackoffOver
    {
        public static BackoffOver Instance { get; } = new();
    }

    private sealed record StartTimedOut(int Pid);

    private sealed record StayedUp(int Pid);

    private sealed record HeartbeatOverdue(int Pid, long HeartbeatsSeen);

    private sealed record SilenceConfirmed(int Pid, long HeartbeatsSeen);

    private sealed record GraceExpired(TimeSpan Grace);
}
