using Mono.Unix.Native;
using UFork.Spawning;
using UFork.Worker;

namespace UFork.Runtime;

/// <summary>
/// A worker's look at itself, as ufork's children do: too much resident memory, or file descriptors
/// near the process limit, mean it should exit and let the arbiter start a fresh one. It runs before
/// every heartbeat, so it reads /proc directly: <c>Environment.WorkingSet</c> and <c>Directory</c>'s
/// enumeration (which stats every entry) cost six times as much.
/// </summary>
internal static class SelfCheck
{
    private const double FdHeadroom = 0.9;

    /// <summary>Why this process should exit now, or null when it is fine.</summary>
    public static string? Violation(long memoryLimit)
    {
        if (ResidentMemory.Of(Environment.ProcessId) is { } resident && resident > memoryLimit)
            return $"resident memory {ResidentMemory.Describe(resident)} is over ufork.worker.memory-limit ({ResidentMemory.Describe(memoryLimit)})";
        if (OpenFds() is { } open && Libc.getrlimit(Libc.RLIMIT_NOFILE, out var limit) == 0 && open > limit.Current * FdHeadroom)
            return $"{open} open file descriptors is over 90% of RLIMIT_NOFILE ({limit.Current})";
        return null;
    }

    /// <summary>The entries of /proc/self/fd, but for ".", ".." and the one the listing itself holds open; null if unreadable.</summary>
    private static int? OpenFds()
    {
        var directory = Syscall.opendir("/proc/self/fd");
        if (directory == IntPtr.Zero)
            return null;
        var entries = 0;
        while (Syscall.readdir(directory) is not null)
            entries++;
        return Syscall.closedir(directory) == 0 ? entries - 3 : null;
    }
}
