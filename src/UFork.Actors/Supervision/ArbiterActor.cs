using Akka.Actor;
using Akka.Event;
using UFork.Configuration;
using UFork.Output;
using UFork.Worker;

namespace UFork.Supervision;

/// <summary>What an arbiter runs, where its output goes, and the sockets its workers share.</summary>
public sealed record ArbiterOptions(
    WorkerCommand Command,
    UForkSettings Settings,
    IOutputSink Output,
    IReadOnlyList<ListenSocket> Sockets,
    Func<Task>? ParentPreStop = null);

/// <summary>
/// The arbiter: keeps one WorkerActor per slot alive, answers the command set of
/// <see cref="ArbiterProtocol"/>, and on <see cref="Shutdown"/> stops every worker gracefully. It does not
/// decide restarts by itself: a dead worker is a failure of its WorkerActor, and the
/// <see cref="RestartPolicy"/> turned into a SupervisorStrategy decides.
/// </summary>
public sealed class ArbiterActor : ReceiveActor
{
    private const int DeadWorkersKept = 10;

    private readonly ArbiterOptions _options;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly SortedDictionary<int, IActorRef> _slots = new();
    private readonly LinkedList<DeadWorker> _dead = new();
    private readonly List<IActorRef> _awaitingShutdown = [];
    private readonly StartGate _startGate;
    private readonly OutputWriter _output;
    private readonly WedgeAlarm _wedgeAlarm = new(window: TimeSpan.FromMinutes(5), quietPeriod: TimeSpan.FromMinutes(10));
    private readonly Queue<int> _slotsToRoll = new();
    private (int Slot, IActorRef Old, IActorRef Replacement)? _rolling;
    private TimeSpan _stopGrace;
    private int _size;
    private int _incarnations;
    private Timer? _memoryRounds;

    public static Props Props(ArbiterOptions options) => Akka.Actor.Props.Create(() => new ArbiterActor(options));

    public ArbiterActor(ArbiterOptions options)
    {
        _options = options;
        _size = options.Settings.Workers;
        _startGate = new StartGate(options.Settings.MaxUnhealthyStarting);
        _output = new OutputWriter(options.Output);
        Serving();
    }

    protected override SupervisorStrategy SupervisorStrategy() => _options.Settings.Restart.ToSupervisorStrategy();

    protected override void PreStart()
    {
        _log.Info("arbiter starting {0} workers: {1}", _size, _options.Command);
        for (var slot = 0; slot < _size; slot++)
            SpawnWorker(slot);
        // One round for the whole fleet rather than a timer per worker, and on a plain .NET timer: an
        // Akka timer would keep the ActorSystem's scheduler ticking every 10 ms for as long as it is pending.
        var self = Self;
        var interval = _options.Settings.Heartbeat.Interval;
        _memoryRounds = new Timer(_ => self.Tell(CheckMemory.Instance), null, interval, interval);
    }

    protected override void PostStop() => _memoryRounds?.Dispose();

    private void Serving()
    {
        Receive<RequestStart>(_ => AdmitIfAllowed(Sender));
        Receive<CheckMemory>(check =>
        {
            foreach (var worker in Context.GetChildren())
                worker.Tell(check);
        });
        Receive<StartFinished>(_ =>
        {
            LeaveStartGate(Sender);
            if (_rolling is { } rolling && rolling.Replacement.Equals(Sender))
                RetireRolledWorker(rolling.Slot, rolling.Old, rolling.Replacement);
        });
        Receive<DeadWorker>(RecordDeath);
        Receive<ListWorkers>(_ => ListWorkers());
        Receive<ListDeadWorkers>(_ => Sender.Tell(_dead.ToList()));
        Receive<Scale>(scale => Sender.Tell(ScaleTo(scale.Workers)));
        Receive<ScaleBy>(scale => Sender.Tell(ScaleTo(_size + scale.Delta)));
        Receive<ReopenLog>(_ => Sender.Tell(ReopenOutput()));
        Receive<RestartWorkers>(restart => Sender.Tell(RollingRestart(restart.Slot)));
        Receive<KillWorker>(kill => Sender.Tell(KillSlot(kill.Slot)));
        Receive<SetLogLevel>(set => Sender.Tell(ChangeLogLevel(set.Level)));
        Receive<Terminated>(t =>
        {
            ReapSlot(t.ActorRef);
            if (_rolling is { } rolling && rolling.Old.Equals(t.ActorRef))
            {
                _rolling = null;
                RollNext();
            }
        });
        Receive<Shutdown>(BeginShutdown);
    }

    private void ShuttingDown()
    {
        Receive<RequestStart>(_ => { });
        Receive<StartFinished>(_ => { });
        Receive<DeadWorker>(RecordDeath);
        Receive<ListWorkers>(_ => ListWorkers());
        Receive<ListDeadWorkers>(_ => Sender.Tell(_dead.ToList()));
        Receive<ReopenLog>(_ => Sender.Tell(ReopenOutput()));
        Receive<Shutdown>(shutdown =>
        {
            _awaitingShutdown.Add(Sender);
            if (shutdown.Fast) // a second Ctrl-C, or QUIT during a graceful stop: stop waiting
            {
                _stopGrace = TimeSpan.Zero;
                StopAllWorkers();
            }
        });
        Receive<ParentPreStopDone>(_ => StopAllWorkers());
        Receive<Terminated>(t =>
        {
            ReapSlot(t.ActorRef);
            if (!Context.GetChildren().Any())
                FinishShutdown();
        });
        Receive<object>(_ => Sender.Tell(new CommandDone(false, "the arbiter is shutting down")));
    }

    private void SpawnWorker(int slot) => _slots[slot] = NewWorker(slot);

    private IActorRef NewWorker(int slot)
    {
        var worker = Context.ActorOf(
            WorkerActor.Props(new WorkerSlotOptions(slot, _options.Command, _options.Settings, _output, _options.Sockets)),
            $"w{slot}-{_incarnations++}"); // unique: a slot's old worker may still be stopping when it is refilled
        Context.Watch(worker);
        return worker;
    }

    private void AdmitIfAllowed(IActorRef worker)
    {
        if (_startGate.TryEnter(worker))
            Admit(worker);
    }

    private void LeaveStartGate(IActorRef worker)
    {
        foreach (var next in _startGate.Leave(worker))
            Admit(next);
    }

    private void Admit(IActorRef worker)
    {
        _wedgeAlarm.RecordStart(DateTimeOffset.UtcNow);
        worker.Tell(StartPermitted.Instance);
    }

    private void RecordDeath(DeadWorker death)
    {
        LeaveStartGate(Sender);
        Context.System.EventStream.Publish(death);
        if (death.Cause == DeathCause.Unresponsive && _wedgeAlarm.RecordTimeout(death.DiedAt) is { } alarm)
            _log.Error(alarm);
        _dead.AddFirst(death);
        if (_dead.Count > DeadWorkersKept)
            _dead.RemoveLast();
        if (death.Cause != DeathCause.Stopped)
            _log.Warning("w{0}: pid {1} died after {2}: {3}", death.Slot, death.Pid, WorkerActor.Describe(death.Uptime), death.Reason);
    }

    /// <summary>A WorkerActor stopped: scaled down, shut down, or given up on by the restart policy.</summary>
    private void ReapSlot(IActorRef worker)
    {
        var slot = _slots.FirstOrDefault(kv => kv.Value.Equals(worker));
        if (slot.Value is null)
            return;
        _slots.Remove(slot.Key);
        LeaveStartGate(worker);
        if (slot.Key < _size && _awaitingShutdown.Count == 0)
            _log.Error("w{0}: giving up after {1} consecutive failures (ufork.restart.max-retries); the slot stays empty",
                slot.Key, _options.Settings.Restart.MaxRetries + 1);
    }

    /// <summary>Asks every WorkerActor; one that stops before it answers is left out, not waited for.</summary>
    private void ListWorkers()
    {
        var timeout = TimeSpan.FromSeconds(2);
        var answers = _slots.Values.Select(w => w.Ask<WorkerStatus>(GetStatus.Instance, timeout)
            .ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default));
        Task.WhenAll(answers)
            .ContinueWith(t => (IReadOnlyList<WorkerStatus>)t.Result.OfType<WorkerStatus>().OrderBy(s => s.Slot).ToList(),
                TaskScheduler.Default)
            .PipeTo(Sender);
    }

    private CommandDone ScaleTo(int workers)
    {
        if (workers < 1)
        {
            _log.Info("staying at {0} worker(s): at least one worker is needed", _size);
            return new CommandDone(false, $"cannot scale to {workers}: at least one worker is needed");
        }
        var before = _size;
        _size = workers;
        for (var slot = before; slot < workers; slot++)
            SpawnWorker(slot);
        foreach (var (slot, worker) in _slots.Where(kv => kv.Key >= workers))
            worker.Tell(new StopWorker(_options.Settings.ShutdownGrace));
        _log.Info("scaled from {0} to {1} workers", before, workers);
        return new CommandDone(true, $"{before} -> {workers} workers");
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

    private CommandDone RollingRestart(int? slot)
    {
        var slots = slot is { } one ? _slots.Keys.Where(s => s == one).ToList() : _slots.Keys.ToList();
        if (slots.Count == 0)
            return new CommandDone(false, $"no worker in slot {slot}");
        foreach (var s in slots.Where(s => !_slotsToRoll.Contains(s)))
            _slotsToRoll.Enqueue(s);
        if (_rolling is null)
            RollNext();
        return new CommandDone(true, $"restarting {slots.Count} worker(s), one at a time");
    }

    /// <summary>Starts a replacement beside the next slot's worker; the old one stops once it is healthy.</summary>
    private void RollNext()
    {
        while (_slotsToRoll.TryDequeue(out var slot))
        {
            if (!_slots.TryGetValue(slot, out var old))
                continue; // scaled away meanwhile
            _log.Info("w{0}: rolling restart, starting its replacement", slot);
            _rolling = (slot, old, NewWorker(slot));
            return;
        }
        _log.Info("rolling restart done");
    }

    private void RetireRolledWorker(int slot, IActorRef old, IActorRef replacement)
    {
        _slots[slot] = replacement;
        old.Tell(new StopWorker(_options.Settings.ShutdownGrace));
    }

    private CommandDone KillSlot(int slot)
    {
        if (!_slots.TryGetValue(slot, out var worker))
            return new CommandDone(false, $"no worker in slot {slot}");
        worker.Tell(new KillProcess("killed by request"));
        return new CommandDone(true, $"sent SIGKILL to w{slot}");
    }

    private CommandDone ChangeLogLevel(LogLevel level)
    {
        Context.System.EventStream.SetLogLevel(level);
        return new CommandDone(true, $"log level {Logging.StringFor(level).ToLowerInvariant()}");
    }

    private void BeginShutdown(Shutdown shutdown)
    {
        _awaitingShutdown.Add(Sender);
        Become(ShuttingDown);
        _stopGrace = shutdown.Fast ? TimeSpan.Zero : _options.Settings.ShutdownGrace;
        _log.Info("shutting down {0} workers ({1})", _slots.Count,
            shutdown.Fast ? "fast: SIGKILL right after SIGTERM" : $"grace {WorkerActor.Describe(_stopGrace)}");
        var hook = _options.ParentPreStop ?? (() => Task.CompletedTask);
        RunHook(hook).PipeTo(Self, success: () => ParentPreStopDone.Instance, failure: _ => ParentPreStopDone.Instance);
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
        if (!Context.GetChildren().Any())
        {
            FinishShutdown();
            return;
        }
        // Every child: the slots' workers, and any that a rolling restart or scale-down has in flight.
        foreach (var worker in Context.GetChildren())
            worker.Tell(new StopWorker(_stopGrace));
    }

    private void FinishShutdown()
    {
        _log.Info("all workers stopped");
        foreach (var requester in _awaitingShutdown)
            requester.Tell(ShutdownComplete.Instance);
        Context.Stop(Self);
    }

    private sealed record ParentPreStopDone
    {
        public static ParentPreStopDone Instance { get; } = new();
    }
}
