using System.Globalization;
using CsCheck;

namespace UFork.Tests.Model;

public enum StepKind
{
    /// <summary>Scale to <see cref="ArbiterStep.Argument"/> workers.</summary>
    Scale,
    /// <summary>Rolling restart of every slot.</summary>
    RestartAll,
    /// <summary>Rolling restart of one slot.</summary>
    Restart,
    /// <summary>The arbiter's own kill (KillWorker: SIGKILL).</summary>
    Kill,
    /// <summary>The worker exits by itself (status 3), told through a control file.</summary>
    Crash,
    /// <summary>SIGKILL from outside the arbiter.</summary>
    SigKill,
    /// <summary>SIGSTOP: the worker stops beating, and the arbiter must kill it for silence.</summary>
    Hang,
    /// <summary>The slot's next worker takes <see cref="ArbiterStep.SlowMs"/> to say ready; a rolling restart of the slot starts it.</summary>
    SlowReady,
}

/// <summary>
/// One thing done to a running arbiter. A slot <see cref="Argument"/> is taken modulo the size at that
/// point, so that a sequence keeps its meaning when shrinking removes a scale step. A null
/// <see cref="PauseMs"/> means: wait for the system to settle and check every invariant; a number
/// means: go on to the next step after that many milliseconds, whatever state the arbiter is in.
/// </summary>
public sealed record ArbiterStep(StepKind Kind, int Argument, int SlowMs, int? PauseMs)
{
    public const int MaxWorkers = 4;

    public bool Settles => PauseMs is null;

    /// <summary><see cref="SlowMs"/> as sleep(1) takes it.</summary>
    public string SlowSeconds => (SlowMs / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>The slot this step acts on when the arbiter keeps <paramref name="size"/> workers.</summary>
    public int SlotAt(int size) => Argument % size;

    public string Describe(int size)
    {
        var what = Kind switch
        {
            StepKind.Scale => $"scale {Argument}",
            StepKind.RestartAll => "restart all",
            StepKind.Restart => $"restart w{SlotAt(size)}",
            StepKind.Kill => $"kill w{SlotAt(size)}",
            StepKind.Crash => $"crash w{SlotAt(size)} (exits 3)",
            StepKind.SigKill => $"SIGKILL w{SlotAt(size)} from outside",
            StepKind.Hang => $"hang w{SlotAt(size)} (SIGSTOP)",
            StepKind.SlowReady => $"slow ready w{SlotAt(size)} ({SlowMs} ms) + restart w{SlotAt(size)}",
            _ => Kind.ToString(),
        };
        return PauseMs is { } pause ? $"{what}, {pause} ms later" : $"{what}, settle";
    }

    // Half the steps do not wait for the arbiter to settle, most of those only briefly: the next step
    // lands inside a rolling restart, a queued start or a stop.
    private static readonly Gen<int?> Pause = Gen.Frequency(
        (2, Gen.Const((int?)null)),
        (2, Gen.Int[0, 150].Select(ms => (int?)ms)),
        (1, Gen.Int[150, 400].Select(ms => (int?)ms)));

    private static readonly Gen<int> AnySlot = Gen.Int[0, MaxWorkers - 1];

    private static Gen<ArbiterStep> OnSlot(StepKind kind) =>
        Gen.Select(AnySlot, Pause, (slot, pause) => new ArbiterStep(kind, slot, 0, pause));

    public static readonly Gen<ArbiterStep> Generator = Gen.Frequency(
        (6, Gen.Select(Gen.Int[1, MaxWorkers], Pause, (n, pause) => new ArbiterStep(StepKind.Scale, n, 0, pause))),
        (3, Pause.Select(pause => new ArbiterStep(StepKind.RestartAll, 0, 0, pause))),
        (3, OnSlot(StepKind.Restart)),
        (2, OnSlot(StepKind.Kill)),
        (2, OnSlot(StepKind.Crash)),
        (1, OnSlot(StepKind.SigKill)),
        (2, OnSlot(StepKind.Hang)),
        (3, Gen.Select(AnySlot, Gen.Int[600, 1500], Pause, (slot, slow, pause) => new ArbiterStep(StepKind.SlowReady, slot, slow, pause))));
}

/// <summary>
/// An arbiter started with <see cref="Workers"/> workers, each of which says ready <see cref="ReadyMs"/>
/// after it starts (unless a slow-ready step says otherwise), then driven through <see cref="Steps"/> and shut down.
/// A worker that takes a while to be ready keeps slots queued and rolling restarts going long enough
/// for the next step to land in the middle of them.
/// </summary>
public sealed record ArbiterSequence(int Workers, int ReadyMs, IReadOnlyList<ArbiterStep> Steps)
{
    public static readonly Gen<ArbiterSequence> Generator = Gen.Select(
        Gen.Int[1, ArbiterStep.MaxWorkers], Gen.Int[50, 400], ArbiterStep.Generator.Array[6, 10],
        (workers, readyMs, steps) => new ArbiterSequence(workers, readyMs, steps));

    /// <summary><see cref="ReadyMs"/> as sleep(1) takes it.</summary>
    public string ReadySeconds => (ReadyMs / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);

    /// <summary>The sequence generated from a CsCheck seed: the same seed, the same sequence.</summary>
    public static ArbiterSequence FromSeed(string seed) => Generator.Generate(PCG.Parse(seed), null!, out _);

    /// <summary>The size before each step, and after the last.</summary>
    public IReadOnlyList<int> Sizes()
    {
        var sizes = new List<int> { Workers };
        foreach (var step in Steps)
            sizes.Add(step.Kind == StepKind.Scale ? step.Argument : sizes[^1]);
        return sizes;
    }

    public IEnumerable<string> Describe()
    {
        var sizes = Sizes();
        yield return $"start {Workers} worker(s), ready after {ReadyMs} ms";
        for (var i = 0; i < Steps.Count; i++)
            yield return $"{i}: {Steps[i].Describe(sizes[i])}";
        yield return "shutdown";
    }

    public ArbiterSequence Keeping(IEnumerable<int> indexes)
    {
        var kept = indexes.ToHashSet();
        return this with { Steps = Steps.Where((_, i) => kept.Contains(i)).ToList() };
    }
}
