using System.Diagnostics;
using System.Text;
using Akka.Actor;
using Mono.Unix.Native;
using UFork.Configuration;
using UFork.Hosting;
using UFork.Supervision;
using UFork.Tests.Support;
using UFork.Worker;

namespace UFork.Tests.Model;

/// <summary>
/// An invariant that did not hold. <see cref="Step"/> is the index of the last step that ran (-1: broken
/// right after the start), so that the steps after it can be left out of a smaller sequence.
/// </summary>
public sealed record ModelViolation(int Step, string When, string Invariant, string Details);

/// <summary>
/// Drives one real arbiter, over shell workers that speak the heartbeat protocol, through one
/// <see cref="ArbiterSequence"/>, and checks after each settling step, and at the end, what the model says
/// must hold: status shows exactly the processes that run, every slot below the size and none above,
/// every replaced worker gone, every slot ready within a bound, a shutdown within grace plus a margin that
/// leaves no process. One instance runs one sequence.
/// </summary>
internal sealed class ArbiterModelRun(Func<WorkerCommand, UForkSettings, Arbiter> start, Action<string> log)
{
    public const string StatusMatchesProcesses = "status lists exactly the running workers";
    public const string EverySlotShown = "every slot below the size appears once in status";
    public const string NoSlotBeyondSize = "no slot at or above the size appears in status";
    public const string StatesAllowed = "each slot is ready, starting, backing off, queued or failed";
    public const string ReplacedAreGone = "a killed, crashed, hung, restarted or scaled-away worker is gone";
    public const string EverySlotReady = "every slot is ready within the settling bound (the start gate admits every queued slot)";
    public const string ArbiterAnswers = "the arbiter answers and accepts every command";
    public const string ShutdownInTime = "shutdown completes within grace + margin";
    public const string NothingSurvives = "no process of the run survives the shutdown";

    /// <summary>Generous for a loaded 2-core box: the slowest legal path (a hang found, a slow ready, a backoff) takes under 4 s.</summary>
    public static readonly TimeSpan SettleWithin = TimeSpan.FromSeconds(10);

    // Settled means: the invariants held on every look for this long, so that a process about to be
    // spawned, or a status about to change, is not mistaken for agreement.
    private static readonly TimeSpan StableFor = TimeSpan.FromMilliseconds(400);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan ShutdownMargin = TimeSpan.FromSeconds(5);
    private static readonly WorkerState[] AllowedStates =
        [WorkerState.Ready, WorkerState.Starting, WorkerState.BackingOff, WorkerState.Queued, WorkerState.Failed];

    public static UForkSettings Settings { get; } = UForkSettings.Default with
    {
        ShutdownGrace = TimeSpan.FromSeconds(1.5),
        Restart = new RestartPolicy(TimeSpan.FromMilliseconds(100), TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(2), MaxRetries: -1),
        Heartbeat = new HeartbeatSettings(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3), Required: true),
        MaxUnhealthyStarting = 1,
        // The steps kill workers before they are ready on purpose: halting the arbiter for that is not what this test is about.
        BootMaxFailures = 1000,
    };

    // $0 is the run's marker, $1 the directory of control files, $2 the seconds to take before ready.
    // Control files: slow-SLOT (a one-shot delay before ready instead, taken by the slot's next worker)
    // and crash-PID (exit 3 at the next beat).
    private const string Script = """
        fd=$UFORK_HEARTBEAT_FD
        if mv "$1/slow-$UFORK_WORKER_ID" "$1/slow.$$" 2>/dev/null; then sleep "$(cat "$1/slow.$$")"; else sleep "$2"; fi
        printf 'ready\n' >&"$fd"
        while [ ! -e "$1/crash-$$" ]; do printf . >&"$fd"; sleep 0.2; done
        exit 3
        """;

    private readonly string _marker = $"ufork-model-{Guid.NewGuid():N}";
    private readonly Dictionary<int, string> _doomed = [];
    private readonly HashSet<int> _seen = [];
    private readonly HashSet<int> _stopped = [];
    private int _size;
    private int _lastStep = -1;
    private string _when = "the start";

    public async Task<ModelViolation?> RunAsync(ArbiterSequence sequence)
    {
        using var controls = new TempDirectory();
        _size = sequence.Workers;
        var arbiter = start(WorkerCommand.Program("/bin/sh", ["-c", Script, _marker, controls.Path, sequence.ReadySeconds]), Settings with { Workers = _size });
        try
        {
            await SettleAsync(arbiter);
            var sizes = sequence.Sizes();
            for (var i = 0; i < sequence.Steps.Count; i++)
            {
                var step = sequence.Steps[i];
                _lastStep = i;
                _when = $"step {i} ({step.Describe(sizes[i])})";
                var clock = Stopwatch.StartNew();
                var target = await ApplyAsync(arbiter, step, controls);
                if (step.PauseMs is { } pause)
                {
                    await Task.Delay(pause);
                    log($"  {i}: {step.Describe(sizes[i])}{target}");
                }
                else
                {
                    await SettleAsync(arbiter);
                    log($"  {i}: {step.Describe(sizes[i])}{target}: settled in {clock.Elapsed.TotalSeconds:0.0} s");
                }
            }
            if (sequence.Steps.Count > 0 && !sequence.Steps[^1].Settles)
            {
                _when = "the last step (settling before the shutdown)";
                await SettleAsync(arbiter);
            }
            await ShutDownAsync(arbiter);
            return null;
        }
        catch (InvariantBroken broken)
        {
            return new ModelViolation(_lastStep, _when, broken.Invariant, broken.Details);
        }
        finally
        {
            await CleanUpAsync(arbiter);
        }
    }

    /// <summary>Does the step, and tells the model which pids must be gone once the arbiter has settled.</summary>
    private async Task<string> ApplyAsync(Arbiter arbiter, ArbiterStep step, TempDirectory controls)
    {
        var before = await StatusAsync(arbiter);
        var slot = step.SlotAt(_size);
        var pid = before.FirstOrDefault(w => w.Slot == slot)?.Pid;
        var target = pid is { } p ? $" [pid {p}]" : " [no process]";
        switch (step.Kind)
        {
            case StepKind.Scale:
                foreach (var away in before.Where(w => w.Slot >= step.Argument && w.Pid is not null))
                    _doomed[away.Pid!.Value] = $"w{away.Slot}, scaled away at {_when}";
                await CommandAsync(arbiter, new Scale(step.Argument));
                _size = step.Argument;
                return "";
            case StepKind.RestartAll:
                foreach (var old in before.Where(w => w.Pid is not null))
                    _doomed[old.Pid!.Value] = $"w{old.Slot}, restarted at {_when}";
                await CommandAsync(arbiter, new RestartWorkers(null));
                return "";
            case StepKind.Restart:
                Doom(pid, "restarted");
                await CommandAsync(arbiter, new RestartWorkers(slot));
                return target;
            case StepKind.Kill:
                Doom(pid, "killed");
                await CommandAsync(arbiter, new KillWorker(slot));
                return target;
            case StepKind.SlowReady:
                await File.WriteAllTextAsync(controls.File($"slow-{slot}"), step.SlowSeconds);
                Doom(pid, "restarted");
                await CommandAsync(arbiter, new RestartWorkers(slot));
                return target;
        }
        if (pid is not { } victim)
            return target + ": nothing to do";
        switch (step.Kind)
        {
            case StepKind.Crash:
                await File.WriteAllTextAsync(controls.File($"crash-{victim}"), "");
                Doom(victim, "told to crash");
                break;
            case StepKind.SigKill:
                Signal(victim, Signum.SIGKILL);
                Doom(victim, "SIGKILLed from outside");
                break;
            case StepKind.Hang:
                Signal(victim, Signum.SIGSTOP);
                _stopped.Add(victim);
                Doom(victim, "hung by SIGSTOP");
                break;
        }
        return target;
    }

    private void Doom(int? pid, string why)
    {
        if (pid is { } p)
            _doomed[p] = $"{why} at {_when}";
    }

    /// <summary>Waits, bounded, until every invariant has held for <see cref="StableFor"/>; else throws the ones that do not.</summary>
    private async Task SettleAsync(Arbiter arbiter)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan? heldSince = null;
        while (true)
        {
            var status = await StatusAsync(arbiter);
            var live = MarkedWorkers.Running(_marker);
            _seen.UnionWith(live.Keys);
            var problems = Check(status, live);
            if (problems.Count == 0)
            {
                heldSince ??= clock.Elapsed;
                if (clock.Elapsed - heldSince >= StableFor)
                {
                    _doomed.Clear(); // seen gone: a later process may reuse the pid
                    return;
                }
            }
            else
            {
                heldSince = null;
                if (clock.Elapsed > SettleWithin)
                    throw await BrokenAsync(arbiter, problems, status, live, clock.Elapsed);
            }
            await Task.Delay(Poll);
        }
    }

    private List<(string Invariant, string Detail)> Check(IReadOnlyList<WorkerStatus> status, IReadOnlyDictionary<int, int> live)
    {
        var problems = new List<(string, string)>();
        foreach (var (pid, slot) in live.Where(l => !status.Any(w => w.Pid == l.Key)))
            problems.Add((StatusMatchesProcesses, $"pid {pid} (w{slot}) runs, but status does not show it"));
        foreach (var shown in status.Where(w => w.Pid is { } pid && !live.ContainsKey(pid)))
            problems.Add((StatusMatchesProcesses, $"status shows w{shown.Slot} as pid {shown.Pid}, which does not run"));
        for (var slot = 0; slot < _size; slot++)
        {
            var count = status.Count(w => w.Slot == slot);
            if (count != 1)
                problems.Add((EverySlotShown, $"w{slot} appears {count} times"));
        }
        foreach (var beyond in status.Where(w => w.Slot >= _size))
            problems.Add((NoSlotBeyondSize, $"w{beyond.Slot} is shown ({beyond.State}) though the size is {_size}"));
        foreach (var odd in status.Where(w => w.Slot < _size && !AllowedStates.Contains(w.State)))
            problems.Add((StatesAllowed, $"w{odd.Slot} is {odd.State}"));
        foreach (var (pid, why) in _doomed.Where(d => ProcessWatch.IsRunning(d.Key) || status.Any(w => w.Pid == d.Key)))
            problems.Add((ReplacedAreGone, $"pid {pid} ({why}) is still there"));
        foreach (var waiting in status.Where(w => w.Slot < _size && w.State != WorkerState.Ready))
            problems.Add((EverySlotReady, $"w{waiting.Slot} is still {waiting.State}"));
        return problems;
    }

    private async Task<InvariantBroken> BrokenAsync(
        Arbiter arbiter, List<(string Invariant, string Detail)> problems, IReadOnlyList<WorkerStatus> status,
        IReadOnlyDictionary<int, int> live, TimeSpan waited)
    {
        // A liveness problem is often the consequence of a safety one: name the safety one.
        var invariant = problems.Select(p => p.Invariant).FirstOrDefault(i => i != EverySlotReady) ?? EverySlotReady;
        var text = new StringBuilder($"still so after waiting {waited.TotalSeconds:0.0} s for the arbiter to settle:\n");
        foreach (var (broken, detail) in problems.OrderBy(p => p.Invariant != invariant))
            text.Append($"  - {detail}{(broken == invariant ? "" : $" [{broken}]")}\n");
        text.Append(Describe(status, live));
        text.Append(await DeathsAsync(arbiter));
        return new InvariantBroken(invariant, text.ToString());
    }

    private string Describe(IReadOnlyList<WorkerStatus> status, IReadOnlyDictionary<int, int> live)
    {
        var text = new StringBuilder($"status (size {_size}):\n  SLOT  PID      STATE       RESTARTS  BACKOFF-UNTIL\n");
        foreach (var w in status)
            text.Append($"  w{w.Slot,-4} {w.Pid?.ToString() ?? "-",-8} {w.State,-11} {w.Restarts,-9} {w.BackoffUntil?.ToString("HH:mm:ss.fff") ?? "-"}\n");
        var processes = live.Count == 0 ? "none" : string.Join(", ", live.Select(l => $"{l.Key} (w{l.Value})"));
        text.Append($"running processes of the run (children of this process marked {_marker}): {processes}\n");
        return text.ToString();
    }

    private static async Task<string> DeathsAsync(Arbiter arbiter)
    {
        try
        {
            var deaths = await arbiter.DeadWorkersAsync();
            return "recent deaths, newest first:\n" + string.Concat(deaths.Select(d =>
                $"  w{d.Slot} pid {d.Pid} {d.Cause} at {d.DiedAt:HH:mm:ss.fff}: {d.Reason}\n"));
        }
        catch (AskTimeoutException)
        {
            return "recent deaths: the arbiter did not answer\n";
        }
    }

    private async Task ShutDownAsync(Arbiter arbiter)
    {
        _when = "the shutdown";
        var limit = Settings.ShutdownGrace + ShutdownMargin;
        var clock = Stopwatch.StartNew();
        try
        {
            await arbiter.Actor.Ask<ShutdownComplete>(Shutdown.Instance, limit);
            await arbiter.Stopped.WaitAsync(limit - clock.Elapsed);
        }
        catch (Exception e) when (e is AskTimeoutException or TimeoutException)
        {
            throw new InvariantBroken(ShutdownInTime,
                $"not complete after {clock.Elapsed.TotalSeconds:0.0} s\n" + Describe([], MarkedWorkers.Running(_marker)));
        }
        var took = clock.Elapsed;
        var left = await Eventually.WaitAsync(
            () => _seen.Where(ProcessWatch.Exists).Union(MarkedWorkers.Running(_marker).Keys).ToList(),
            pids => pids.Count == 0, ShutdownMargin);
        if (left.Count > 0)
            throw new InvariantBroken(NothingSurvives, $"{ShutdownMargin.TotalSeconds:0} s after the shutdown completed, still there: {string.Join(", ", left)}");
        log($"  shutdown: complete in {took.TotalSeconds:0.0} s, no process left");
    }

    /// <summary>Whatever happened: wake what the run stopped, stop the arbiter, and kill what a broken one left.</summary>
    private async Task CleanUpAsync(Arbiter arbiter)
    {
        foreach (var pid in _stopped.Where(ProcessWatch.IsRunning))
            Signal(pid, Signum.SIGCONT); // a stopped process acts on no SIGTERM
        if (!arbiter.Stopped.IsCompleted)
        {
            try
            {
                await arbiter.StopAsync().WaitAsync(Settings.ShutdownGrace + ShutdownMargin);
            }
            catch (Exception e) when (e is AskTimeoutException or TimeoutException)
            {
                log($"  clean-up: the arbiter did not stop: {e.Message}");
            }
        }
        foreach (var pid in MarkedWorkers.Running(_marker).Keys)
        {
            log($"  clean-up: pid {pid} outlived its arbiter; SIGKILL");
            Signal(pid, Signum.SIGKILL);
        }
    }

    private static async Task<IReadOnlyList<WorkerStatus>> StatusAsync(Arbiter arbiter)
    {
        try
        {
            return await arbiter.ListWorkersAsync();
        }
        catch (AskTimeoutException)
        {
            throw new InvariantBroken(ArbiterAnswers, "ListWorkers got no answer");
        }
    }

    private static async Task CommandAsync(Arbiter arbiter, object command)
    {
        CommandDone done;
        try
        {
            done = await arbiter.Actor.Ask<CommandDone>(command, AskTimeout);
        }
        catch (AskTimeoutException)
        {
            throw new InvariantBroken(ArbiterAnswers, $"{command} got no answer within {AskTimeout.TotalSeconds:0} s");
        }
        if (!done.Ok)
            throw new InvariantBroken(ArbiterAnswers, $"{command} was refused: {done.Message}");
    }

    /// <summary>A process already gone is no error: it may have died between the status and the signal.</summary>
    private static void Signal(int pid, Signum signal)
    {
        if (Syscall.kill(pid, signal) != 0 && Stdlib.GetLastError() is var error && error != Errno.ESRCH)
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: {error}");
    }

    private sealed class InvariantBroken(string invariant, string details) : Exception($"{invariant}: {details}")
    {
        public string Invariant { get; } = invariant;
        public string Details { get; } = details;
    }
}
