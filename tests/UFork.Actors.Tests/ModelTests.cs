using System.Diagnostics;
using CsCheck;
using UFork.Tests.Model;
using UFork.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace UFork.Tests;

/// <summary>
/// A model-based test of the arbiter against real processes: random sequences of scale, restart, kill,
/// crash, hang and slow-ready steps (<see cref="ArbiterSequence"/>), each on a fresh arbiter, with the
/// invariants of <see cref="ArbiterModelRun"/> checked after every settling step and at the shutdown.
/// <para>
/// Sequences come from CsCheck generators, each from a seed that reproduces it. A failing sequence is
/// shrunk by leaving steps out, one rerun per try, within a time budget: a run takes seconds of real
/// processes, so CsCheck's own shrinking, which samples thousands of smaller cases, does not fit.
/// </para>
/// Environment: UFORK_MODEL_SEED (the run's seed: the same sequences again), UFORK_MODEL_SEQUENCE with
/// optional UFORK_MODEL_KEEP (one sequence's seed and the indexes of the steps to keep, or "none": a
/// shrunk failure again), UFORK_MODEL_SEQUENCES (how many, 8), UFORK_MODEL_REPEAT (run them that many times: timing
/// decides many failures), UFORK_MODEL_SHRINK_SECONDS (60).
/// </summary>
public sealed class ModelTests : ArbiterTestKit
{
    private readonly ITestOutputHelper _output;

    public ModelTests(ITestOutputHelper output) : base(output) => _output = output;

    private const int ShrinkAttempts = 2;

    [Fact]
    public async Task Random_steps_keep_status_processes_and_the_start_gate_in_agreement()
    {
        var clock = Stopwatch.StartNew();
        var plan = Plan();
        var steps = 0;
        for (var i = 0; i < plan.Count; i++)
        {
            var (seed, kept) = plan[i];
            var sequence = ArbiterSequence.FromSeed(seed);
            kept ??= Enumerable.Range(0, sequence.Steps.Count).ToList();
            var candidate = sequence.Keeping(kept);
            _output.WriteLine($"sequence {i + 1}/{plan.Count}, seed {seed}: {string.Join("; ", candidate.Describe())}");
            var violation = await RunAsync(candidate);
            steps += violation is null ? candidate.Steps.Count : violation.Step + 1;
            if (violation is null)
                continue;
            _output.WriteLine($"broken: {violation.Invariant}, after {violation.When}; shrinking");
            var (shrunk, shrunkViolation, reruns) = await ShrinkAsync(sequence, kept, violation);
            _output.WriteLine($"ran {i + 1} sequence(s), {steps} steps, {reruns} shrinking rerun(s) in {clock.Elapsed.TotalSeconds:0} s");
            Assert.Fail(Report(seed, sequence, kept, violation, shrunk, shrunkViolation, reruns));
        }
        _output.WriteLine($"ran {plan.Count} sequence(s), {steps} steps in {clock.Elapsed.TotalSeconds:0} s: every invariant held");
    }

    private Task<ModelViolation?> RunAsync(ArbiterSequence sequence) =>
        new ArbiterModelRun((command, settings) => StartArbiter(command, settings), _output.WriteLine).RunAsync(sequence);

    /// <summary>Each sequence to run: its seed, and the steps to keep (null: all).</summary>
    private List<(string Seed, List<int>? Kept)> Plan()
    {
        if (Environment.GetEnvironmentVariable("UFORK_MODEL_SEQUENCE") is { Length: > 0 } one)
        {
            var keep = Environment.GetEnvironmentVariable("UFORK_MODEL_KEEP") is { Length: > 0 } list
                ? list == "none" ? [] : list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(int.Parse).ToList()
                : null;
            _output.WriteLine($"one sequence, UFORK_MODEL_SEQUENCE={one}{(keep is null ? "" : $" UFORK_MODEL_KEEP={string.Join(',', keep)}")}");
            return Enumerable.Repeat((one, keep), Repeat()).ToList();
        }
        var runSeed = Environment.GetEnvironmentVariable("UFORK_MODEL_SEED") is { Length: > 0 } given
            ? given
            : new PCG((uint)Random.Shared.Next(), (ulong)Random.Shared.NextInt64()).ToString();
        var count = int.TryParse(Environment.GetEnvironmentVariable("UFORK_MODEL_SEQUENCES"), out var n) && n > 0 ? n : 8;
        _output.WriteLine($"{count} sequences from UFORK_MODEL_SEED={runSeed}");
        var seeds = PCG.Parse(runSeed);
        var sequences = Enumerable.Range(0, count)
            .Select(_ => (new PCG(seeds.Next(), seeds.Next64()).ToString(), (List<int>?)null))
            .ToList();
        return Enumerable.Repeat(sequences, Repeat()).SelectMany(plan => plan).ToList();
    }

    private static int Repeat() => int.TryParse(Environment.GetEnvironmentVariable("UFORK_MODEL_REPEAT"), out var n) && n > 0 ? n : 1;

    /// <summary>
    /// Leaves out one step at a time, last first, keeping each removal after which the same invariant
    /// still breaks; the steps after the one that broke it never ran and go at once.
    /// </summary>
    private async Task<(List<int> Kept, ModelViolation Violation, int Reruns)> ShrinkAsync(
        ArbiterSequence sequence, List<int> kept, ModelViolation violation)
    {
        var budget = TimeSpan.FromSeconds(
            int.TryParse(Environment.GetEnvironmentVariable("UFORK_MODEL_SHRINK_SECONDS"), out var s) && s >= 0 ? s : 60);
        var clock = Stopwatch.StartNew();
        kept = kept.Take(violation.Step + 1).ToList();
        var reruns = 0;
        for (var i = kept.Count - 1; i >= 0 && clock.Elapsed < budget; i--)
        {
            var candidate = kept.Where((_, k) => k != i).ToList();
            _output.WriteLine($"shrinking: without step {kept[i]}, keeping {string.Join(',', candidate)}");
            if (await BreaksAgainAsync(sequence.Keeping(candidate), violation.Invariant, () => reruns++) is { } found)
            {
                kept = candidate.Take(found.Step + 1).ToList();
                violation = found;
                i = Math.Min(i, kept.Count);
            }
        }
        return (kept, violation, reruns);
    }

    /// <summary>Timing decides many of these failures: a candidate gets a second run before it counts as passing.</summary>
    private async Task<ModelViolation?> BreaksAgainAsync(ArbiterSequence candidate, string invariant, Action counted)
    {
        for (var attempt = 0; attempt < ShrinkAttempts; attempt++)
        {
            counted();
            if (await RunAsync(candidate) is { } found && found.Invariant == invariant)
                return found;
        }
        return null;
    }

    private static string Report(
        string seed, ArbiterSequence sequence, List<int> kept, ModelViolation first,
        List<int> shrunk, ModelViolation violation, int reruns)
    {
        var original = sequence.Keeping(kept);
        var smallest = sequence.Keeping(shrunk);
        return $"""
            invariant broken: {violation.Invariant}
            after {violation.When} of the shrunk sequence ({smallest.Steps.Count} of {original.Steps.Count} steps, {reruns} rerun(s)):
              {string.Join("\n  ", smallest.Describe())}
            {violation.Details}
            first seen: {first.Invariant}, after {first.When} of:
              {string.Join("\n  ", original.Describe())}
            rerun the shrunk sequence (timing decides: repeat it): UFORK_MODEL_SEQUENCE={seed} UFORK_MODEL_KEEP={(shrunk.Count == 0 ? "none" : string.Join(',', shrunk))} UFORK_MODEL_REPEAT=5
            """;
    }
}
