using Akka.Actor;
using Akka.Event;
using Mono.Unix.Native;
using UFork.Configuration;
using UFork.Output;
using UFork.Spawning;
using UFork.Worker;

namespace UFork.Supervision;

/// <summary>
/// What an arbiter runs, where its output goes, and the sockets its workers share; with <paramref name="Logging"/>,
/// its own lines go through Microsoft.Extensions.Logging instead of its output (see <see cref="ArbiterLog"/>).
/// </summary>
public sealed record ArbiterOptions(
    WorkerCommand Command,
    UForkSettings Settings,
    IOutputSink Output,
    IReadOnlyList<ListenSocket> Sockets,
    Func<Task>? ParentPreStop = null,
    Microsoft.Extensions.Logging.ILoggerFactory? Logging = null);

/// <summary>
/// The arbiter: keeps one WorkerActor per slot, answers the command set of <see cref="ArbiterProtocol"/>,
/// rolls restarts one slot at a time, and on <see cref="Shutdown"/> stops every worker gracefully. Its
/// workers report (started, ready, dead); it decides what the fleet does. What happens to a slot whose
/// worker failed is not decided here but by the <see cref="WorkerSupervisorStrategy"/>.
/// <code>
///   Serving ──Shutdown, or boot failure (Halt)──► ShuttingDown ──last worker gone──► stopped
///              parent-pre-stop hook, then StopWorker to every worker
/// </code>
/// </summary>
public sealed class ArbiterActor : ReceiveActor
{
    /// <summary>The exit code of an arbiter halted because its workers could not boot (gunicorn's WORKER_BOOT_ERROR).</summary>
    public const int BootFailedExitCode = 3;

    private const int DeadWorkersKept = 10;

    private readonly ArbiterOptions _options;
    private readonly UForkSettings _settings;
    private readonly ILoggingAdapter _log;
    private readonly WorkerSupervisorStrategy _strategy;
    private readonly OutputWriter _output;
    private readonly CancellationTokenSource _stopped = new();
    private readonly Dictionary<int, IActorRef> _slots = new();     // each slot's worker
    private readonly Dictionary<IActorRef, int> _slotOf = new();    // every worker, replacements included
    private readonly HashSet<IActorRef> _ready = new();
    private readonly LinkedList<DeadWorker> _dead = new();
    private readonly List<IActorRef> _awaitingShutdown = [];
    private readonly StartGate _startGate;
    private readonly WedgeAlarm _wedgeAlarm = new(window: TimeSpan.FromMinutes(5), quietPeriod: TimeSpan.FromMinutes(10));
    private Rollout? _rollout;
    private TimeSpan _stopGrace;
    private int _size;
    private int _incarnations;
    private bool _everReady;
    private int _bootFailures;
    private (int ExitCode, string? Reason) _exit = (0, null);
    private Timer? _memoryRounds;

    /// <exception cref="ArgumentOutOfRangeException">More workers than ufork.max-workers, or fewer than one.</exception>
    public static Props Props(ArbiterOptions options)
    {
        var settings = options.Settings;
        if (settings.Workers < 1 || settings.Workers > settings.MaxWorkers)
            throw new ArgumentOutOfRangeException(nameof(options),
                $"workers must be between 1 and ufork.max-workers ({settings.MaxWorkers}), not {settings.Workers}");
        return Akka.Actor.Props.Create(() => new ArbiterActor(options));
    }

    public ArbiterActor(ArbiterOptions options)
    {
        _options = options;
        _settings = options.Settings;
        _log = ArbiterLog.For(Context, options.Logging);
        _size = _settings.Workers;
        _strategy = new WorkerSupervisorStrategy(_settings.Restart);
        _startGate = new StartGate(_settings.MaxUnhealthyStarting);
        _output = new OutputWriter(options.Output);
        Serving();
    }

    protected override SupervisorStrategy SupervisorStrategy() => _strategy;

    protected override void PreStart()
    {
        if (ProcessReactor.ShouldAdoptOrphans(_settings.Subreaper))
            ProcessReactor.Shared.AdoptOrphans();
        _log.Info("arbiter starting {0}: {1}", Wording.Count(_size, "worker"), _options.Command);
        for (var slot = 0; slot < _size; slot++)
            SpawnWorker(slot);
        // One round for the whole fleet rather than a timer per worker, and on a plain .NET timer: an
        // Akka timer would keep the ActorSystem's scheduler ticking every tick for as long as it is pending.
        var self = Self;
        var interval = _settings.Heartbeat.Interval;
        _memoryRounds = new Timer(_ => self.Tell(CheckMemory.Instance), null, interval, interval);
    }

    protected override void PostStop()
    {
        _memoryRounds?.Dispose();
        _stopped.Cancel(); // pipe readers still echoing (a grandchild holds a pipe, a sink is stuck) let go
    }

    // ── the states ──────────────────────────────────────────────────────────────────────────────────

    private void Serving()
    {
        Receive<RequestStart>(_ => AdmitIfAllowed(Sender));
        Receive<WorkerReady>(ready => OnReady(Sender, ready));
        Receive<DeadWorker>(death =>
        {
            RecordDeath(Sender, death);
            if (IsBootFailure(death))
                Halt(death);
        });
        Receive<Terminated>(t => ReapWorker(t.ActorRef));
        Receive<CheckMemory>(check => TellEveryWorker(check));
        Receive<ListWorkers>(_ => ListWorkers());
        Receive<ListDeadWorkers>(_ => Sender.Tell(_dead.ToList()));
        Receive<Scale>(scale => Sender.Tell(ScaleTo(scale.Workers)));
        Receive<ScaleBy>(scale => Sender.Tell(ScaleTo(_size + scale.Delta)));
        Receive<RestartWorkers>(restart => RollingRestart(restart.Slot, Sender));
        Receive<KillWorker>(kill => Sender.Tell(KillSlot(kill.Slot)));
        Receive<ReopenLog>(_ => Sender.Tell(ReopenOutput()));
        Receive<SetLogLevel>(set => Sender.Tell(ChangeLogLevel(set.Level)));
        Receive<Shutdown>(shutdown => BeginShutdown(shutdown.Fast, Sender));
    }

    private void ShuttingDown()
    {
        Receive<RequestStart>(_ => { }); // it is being told to stop
        Receive<WorkerReady>(_ => _startGate.Leave(Sender));
        Receive<DeadWorker>(death => RecordDeath(Sender, death));
        Receive<Terminated>(t =>
        {
            ReapWorker(t.ActorRef);
            if (_slotOf.Count == 0)
                FinishShutdown();
        });
        Receive<ParentPreStopDone>(_ => StopAllWorkers());
        Receive<Shutdown>(shutdown =>
        {
            AwaitShutdown(Sender);
            if (shutdown.Fast) // a second Ctrl-C, or QUIT during a graceful stop: stop waiting
            {
                _stopGrace = TimeSpan.Zero;
                StopAllWorkers();
            }
        });
        Receive<ListWorkers>(_ => ListWorkers());
        Receive<ListDeadWorkers>(_ => Sender.Tell(_dead.ToList()));
        Receive<ReopenLog>(_ => Sender.Tell(ReopenOutput()));
        Receive<CheckMemory>(_ => { });
        Receive<object>(_ => Sender.Tell(new CommandDone(false, "the arbiter is shutting down")));
    }

    // ── workers: spawn, admit, ready, dead, reap ────────────────────────────────────────────────────

    private void SpawnWorker(int slot) => _slots[slot] = NewWorker(slot);

    private IActorRef NewWorker(int slot)
    {
        var worker = Context.ActorOf(
            WorkerActor.Props(new WorkerSlotOptions(slot, _options.Command, _settings, _output, _options.Sockets, _stopped.Token, _options.Logging)),
            $"w{slot}-{_incarnations++}"); // unique: a slot's old worker may still be stopping beside its replacement
        _slotOf[worker] = slot;
        Context.Watch(worker);
        return worker;
    }

    private void AdmitIfAllowed(IActorRef worker)
    {
        if (_startGate.TryEnter(worker))
            Admit(worker);
    }

    private void Admit(IActorRef worker)
    {
        _wedgeAlarm.RecordStart(DateTimeOffset.UtcNow);
        worker.Tell(StartPermitted.Instance);
    }

    private void LeaveStartGate(IActorRef worker)
    {
        foreach (var next in _startGate.Leave(worker))
            Admit(next);
    }

    private void OnReady(IActorRef worker, WorkerReady ready)
    {
        LeaveStartGate(worker);
        _ready.Add(worker);
        _everReady = true;
        _bootFailures = 0;
        if (_rollout?.Replacement is { } replacement && replacement.Equals(worker))
            RetireRolledWorker(ready);
    }

    private void RecordDeath(IActorRef worker, DeadWorker death)
    {
        LeaveStartGate(worker);
        _ready.Remove(worker);
        Context.System.EventStream.Publish(death);
        if (death.Cause == DeathCause.Unresponsive && _wedgeAlarm.RecordTimeout(death.DiedAt) is { } alarm)
            _log.Error(alarm);
        _dead.AddFirst(death);
        if (_dead.Count > DeadWorkersKept)
            _dead.RemoveLast();
        if (_rollout is { } rollout && worker.Equals(rollout.Replacement))
            rollout.ReplacementDeath = death;
        if (death.Cause != DeathCause.Stopped)
            _log.Warning("w{0}: pid {1} died after {2}: {3}", death.Slot, death.Pid, WorkerActor.Describe(death.Uptime), death.Reason);
    }

    /// <summary>A WorkerActor stopped: scaled down, shut down, retired by a rolling restart, or a replacement that failed its trial.</summary>
    private void ReapWorker(IActorRef worker)
    {
        if (!_slotOf.Remove(worker, out var slot))
            return;
        LeaveStartGate(worker);
        _ready.Remove(worker);
        _strategy.Forget(worker);
        if (_slots.TryGetValue(slot, out var current) && current.Equals(worker))
            _slots.Remove(slot);
        if (_rollout is not { } rollout)
            return;
        if (worker.Equals(rollout.Old))
            RollNext();
        else if (worker.Equals(rollout.Replacement))
        {
            if (slot < _size)
                AbortRollout(rollout.ReplacementDeath is { } death
                    ? $"w{slot}'s replacement (pid {death.Pid}) {death.Reason} before it was ready"
                    : $"w{slot}'s replacement stopped before it was ready");
            else
                RollNext(); // scaled away meanwhile
        }
    }

    private void TellEveryWorker(object message)
    {
        foreach (var worker in _slotOf.Keys)
            worker.Tell(message);
    }

    // ── boot failure ────────────────────────────────────────────────────────────────────────────────

    /// <summary>
    /// At boot, before any worker was ever ready: ufork.boot.max-failures deaths in a row of workers that
    /// never became ready mean the release cannot start (a missing module, a bad config); restarting it
    /// forever would only hide that. Once the fleet has served, deaths are the restart policy's.
    /// </summary>
    private bool IsBootFailure(DeadWorker death)
    {
        if (_everReady || death.WasReady || !FailedByItself(death))
            return false;
        return ++_bootFailures >= _settings.BootMaxFailures && _ready.Count == 0;
    }

    /// <summary>
    /// It exited, crashed, could not be started or was not ready in time: the release's doing. A worker
    /// killed by a person (ctl kill, or a kill -9 from a shell) says nothing about whether it can boot.
    /// </summary>
    private static bool FailedByItself(DeadWorker death) => death.Cause switch
    {
        DeathCause.Exited => death.Status.Signal is not (Signum.SIGKILL or Signum.SIGTERM or Signum.SIGINT or Signum.SIGHUP),
        DeathCause.SpawnFailed or DeathCause.Unresponsive or DeathCause.OverMemoryLimit => true,
        _ => false,
    };

    private void Halt(DeadWorker last)
    {
        var reason = $"the workers cannot boot: {_bootFailures} died in a row before becoming ready " +
                     $"(ufork.boot.max-failures = {_settings.BootMaxFailures}); the last, w{last.Slot} pid {last.Pid}, {last.Reason}";
        _log.Error("{0}{1}", reason, last.LastLines is { Count: > 0 } lines
            ? $"; its last lines:\n{string.Join('\n', lines.Select(l => $"    {l}"))}"
            : "; it wrote nothing");
        _exit = (BootFailedExitCode, reason);
        BeginShutdown(fast: true, ActorRefs.Nobody);
    }

    // ── the command set ─────────────────────────────────────────────────────────────────────────────

    /// <summary>Asks every worker, replacements and stopping ones included; one that stops before it answers is left out.</summary>
    private void ListWorkers()
    {
        var timeout = TimeSpan.FromSeconds(2);
        var answers = _slotOf.Keys.Select(w => w.Ask<WorkerStatus>(GetStatus.Instance, timeout)
            .ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default));
        Task.WhenAll(answers)
            .ContinueWith(t => (IReadOnlyList<WorkerStatus>)t.Result.OfType<WorkerStatus>()
                    .OrderBy(s => s.Slot).ThenBy(s => s.StartedAt ?? DateTimeOffset.MaxValue).ToList(),
                TaskScheduler.Default)
            .PipeTo(Sender);
    }

    private CommandDone ScaleTo(int workers)
    {
        if (workers < 1)
        {
            _log.Info("staying at {0}: at least one worker is needed", Wording.Count(_size, "worker"));
            return new CommandDone(false, $"cannot scale to {workers}: at least one worker is needed");
        }
        if (workers > _settings.MaxWorkers)
        {
            _log.Info("staying at {0}: {1} is more than ufork.max-workers ({2})", Wording.Count(_size, "worker"), workers, _settings.MaxWorkers);
            return new CommandDone(false, $"cannot scale to {workers}: ufork.max-workers is {_settings.MaxWorkers}");
        }
        var before = _size;
        _size = workers;
        for (var slot = 0; slot < workers; slot++)
        {
            if (!_slots.TryGetValue(slot, out var worker))
                SpawnWorker(slot);
            else if (_strategy.HasGivenUp(worker))
                Revive(worker);
        }
        // Stopping workers stay tracked (and shown) until they are gone, but their slots are free at once,
        // so that scaling back up fills them with new workers.
        foreach (var slot in _slots.Keys.Where(k => k >= workers).ToList())
            _slots.Remove(slot);
        foreach (var (worker, _) in _slotOf.Where(kv => kv.Value >= workers))
            worker.Tell(new StopWorker(_settings.ShutdownGrace));
        _log.Info("scaled from {0} to {1}", before, Wording.Count(workers, "worker"));
        return new CommandDone(true, $"{before} -> {workers} workers");
    }

    private void Revive(IActorRef worker)
    {
        _strategy.Forgive(worker);
        worker.Tell(Worker.Revive.Instance);
    }

    private CommandDone KillSlot(int slot)
    {
        if (!_slots.TryGetValue(slot, out var worker))
            return new CommandDone(false, $"no worker in slot {slot}");
        worker.Tell(new KillProcess("killed by request"));
        return new CommandDone(true, $"sent SIGKILL to w{slot}");
    }

    private CommandDone ReopenOutput()
    {
        if (_options.Output is not IReopenableOutput file)
            return new CommandDone(false, "the output is not a file; nothing to reopen");
        try
        {
            file.Reopen();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _log.Error("cannot reopen {0}, still writing to the old file: {1}", file.Path, e.Message);
            return new CommandDone(false, $"cannot reopen {file.Path}: {e.Message}");
        }
        _log.Info("reopened {0}", file.Path);
        return new CommandDone(true, $"reopened {file.Path}");
    }

    private CommandDone ChangeLogLevel(LogLevel level)
    {
        Context.System.EventStream.SetLogLevel(level);
        return new CommandDone(true, $"log level {Logging.StringFor(level).ToLowerInvariant()}");
    }

    // ── rolling restart ─────────────────────────────────────────────────────────────────────────────

    /// <summary>
    /// Queues the slots to roll, whatever their state (a starting worker runs the old release too); a
    /// failed slot is brought back instead. Answers once the whole restart is done or aborted.
    /// </summary>
    private void RollingRestart(int? slot, IActorRef requester)
    {
        if (slot is { } one && (one >= _size || !_slots.ContainsKey(one)))
        {
            requester.Tell(new CommandDone(false, $"no worker in slot {one}"));
            return;
        }
        var slots = slot is { } s ? [s] : _slots.Keys.Where(k => k < _size).Order().ToList();
        var revived = new List<int>();
        var toRoll = new List<int>();
        foreach (var candidate in slots)
        {
            var worker = _slots[candidate];
            if (_strategy.HasGivenUp(worker))
            {
                Revive(worker);
                revived.Add(candidate);
            }
            else
                toRoll.Add(candidate);
        }
        var broughtBack = revived.Count > 0 ? $"brought back {string.Join(", ", revived.Select(r => $"w{r}"))}" : null;
        if (toRoll.Count == 0)
        {
            Reply(requester, new CommandDone(true, broughtBack!));
            return;
        }
        var rollout = _rollout ??= new Rollout();
        foreach (var s2 in toRoll.Where(s2 => !rollout.Pending.Contains(s2) && rollout.Slot != s2))
            rollout.Pending.Enqueue(s2);
        if (!requester.IsNobody())
            rollout.Requesters.Add(requester);
        if (rollout.Old is null)
            RollNext();
    }

    /// <summary>Starts a replacement beside the next slot's worker; the old one stops once the replacement is ready.</summary>
    private void RollNext()
    {
        var rollout = _rollout!;
        rollout.Old = rollout.Replacement = null;
        while (rollout.Pending.TryDequeue(out var slot))
        {
            if (slot >= _size || !_slots.TryGetValue(slot, out var old) || _strategy.HasGivenUp(old))
                continue; // scaled away, or given up meanwhile
            _log.Info("w{0}: rolling restart, starting its replacement", slot);
            var replacement = NewWorker(slot);
            _strategy.PutOnTrial(replacement);
            (rollout.Slot, rollout.Old, rollout.Replacement, rollout.ReplacementDeath) = (slot, old, replacement, null);
            return;
        }
        _log.Info("rolling restart done: {0} restarted", Wording.Count(rollout.Restarted, "worker"));
        FinishRollout(new CommandDone(true, $"restarted {Wording.Count(rollout.Restarted, "worker")}, one at a time"));
    }

    private void RetireRolledWorker(WorkerReady ready)
    {
        var rollout = _rollout!;
        _strategy.EndTrial(rollout.Replacement!);
        _slots[rollout.Slot] = rollout.Replacement!;
        rollout.Replacement = null;
        rollout.Restarted++;
        _log.Info("w{0}: replacement pid {1} is ready; stopping the worker it replaces", ready.Slot, ready.Pid);
        rollout.Old!.Tell(new StopWorker(_settings.ShutdownGrace));
    }

    private void AbortRollout(string why)
    {
        var rollout = _rollout!;
        var left = rollout.Pending.Where(s => s < _size).Select(s => $"w{s}").ToList();
        var message = $"rolling restart aborted: {why}; w{rollout.Slot} keeps its worker" +
                      (left.Count > 0 ? $", and {string.Join(", ", left)} were not restarted" : "") +
                      $" ({rollout.Restarted} restarted before)";
        _log.Warning(message);
        FinishRollout(new CommandDone(false, message));
    }

    private void FinishRollout(CommandDone outcome)
    {
        Context.System.EventStream.Publish(new RollingRestartEnded(outcome.Ok));
        foreach (var requester in _rollout!.Requesters)
            requester.Tell(outcome);
        _rollout = null;
    }

    private void Reply(IActorRef requester, object reply)
    {
        if (!requester.IsNobody())
            requester.Tell(reply);
    }

    // ── shutdown ────────────────────────────────────────────────────────────────────────────────────

    private void BeginShutdown(bool fast, IActorRef requester)
    {
        AwaitShutdown(requester);
        if (_rollout is not null)
        {
            _rollout.Pending.Clear();
            FinishRollout(new CommandDone(false, "rolling restart aborted: the arbiter is shutting down"));
        }
        _strategy.StopRestarting();
        Become(ShuttingDown);
        _stopGrace = fast ? TimeSpan.Zero : _settings.ShutdownGrace;
        _log.Info("shutting down {0} ({1})", Wording.Count(_slotOf.Count, "worker"),
            fast ? "fast: SIGKILL right after SIGTERM" : $"grace {WorkerActor.Describe(_stopGrace)}");
        var hook = _options.ParentPreStop ?? (() => Task.CompletedTask);
        RunHook(hook).PipeTo(Self, success: () => ParentPreStopDone.Instance, failure: _ => ParentPreStopDone.Instance);
    }

    private void AwaitShutdown(IActorRef requester)
    {
        if (!requester.IsNobody())
            _awaitingShutdown.Add(requester);
    }

    private async Task RunHook(Func<Task> hook)
    {
        try
        {
            await hook();
        }
        catch (Exception e)
        {
            _log.Error("parent pre-stop hook failed: {0}", e.Message);
        }
    }

    private void StopAllWorkers()
    {
        if (_slotOf.Count == 0)
        {
            FinishShutdown();
            return;
        }
        TellEveryWorker(new StopWorker(_stopGrace));
    }

    private void FinishShutdown()
    {
        _log.Info("all workers stopped");
        Context.System.EventStream.Publish(new ArbiterStopped(Self, _exit.ExitCode, _exit.Reason));
        foreach (var requester in _awaitingShutdown)
            requester.Tell(ShutdownComplete.Instance);
        Context.Stop(Self);
    }

    /// <summary>A rolling restart in progress: the slot being rolled, its old worker and its replacement.</summary>
    private sealed class Rollout
    {
        public Queue<int> Pending { get; } = new();
        public List<IActorRef> Requesters { get; } = [];
        public int Slot { get; set; } = -1;
        public IActorRef? Old { get; set; }
        public IActorRef? Replacement { get; set; }
        public DeadWorker? ReplacementDeath { get; set; }
        public int Restarted { get; set; }
    }

    private sealed record ParentPreStopDone
    {
        public static ParentPreStopDone Instance { get; } = new();
    }
}
