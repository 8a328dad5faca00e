using UFork.Spawning;
using UFork.Worker;

namespace UFork.Runtime;

/// <summary>
/// A worker's look at itself, as ufork's children do: too much resident memory, or file descriptors
/// near the process limit, mean it should exit and let the arbiter start a fresh one.
/// </summary>
internal static class SelfCheck
{
    private const double FdHeadroom = 0.9;

    /// <summary>Why this process should exit now, or null when it is fine.</summary>
    public static string? Violation(long memoryLimit)
    {
        var resident = Environment.WorkingSet;
        if (resident > memoryLimit)
            return $"resident memory {ResidentMemory.Describe(resident)} is over ufork.worker.memory-limit ({ResidentMemory.Describe(memoryLimit)})";
        var open = Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        if (Libc.getrlimit(Libc.RLIMIT_NOFILE, out var limit) == 0 && open > limit.Current * FdHeadroom)
            return $"{open} open file descriptors is over 90% of RLIMIT_NOFILE ({limit.Current})";
        return null;
    }
}
