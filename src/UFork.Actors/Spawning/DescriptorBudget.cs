namespace UFork.Spawning;

/// <summary>
/// Keeps spawning from using the last file descriptors of the process. At RLIMIT_NOFILE the .NET runtime
/// itself fails: a new thread needs a pipe, and the runtime aborts the whole process with "Out of memory."
/// when it cannot start one (taking every worker with it); loading an assembly needs fds too. So a spawn
/// that would leave fewer than a reserve free is refused with EMFILE, while the runtime can still work.
/// </summary>
internal static class DescriptorBudget
{
    /// <summary>Fds left to the runtime: thread starts, assembly loads, sockets, log files.</summary>
    public const int DefaultReserve = 64;

    /// <summary>The fds one spawn holds at its peak beyond what it is given: two pipes and a pidfd.</summary>
    public static int NeededFor(ProcessSpec spec) => 5 + spec.InheritedFds.Count;

    /// <exception cref="IOException">Fewer than <paramref name="needed"/> + <paramref name="reserve"/> fds are free.</exception>
    public static void Require(int needed, int reserve)
    {
        if (Libc.getrlimit(Libc.RLIMIT_NOFILE, out var limit) != 0)
            throw new IOException($"getrlimit(RLIMIT_NOFILE): {PosixError.DescribeLast()}");
        if (limit.Current > int.MaxValue)
            return;
        var open = Directory.EnumerateFileSystemEntries("/proc/self/fd").Count();
        var free = (long)limit.Current - open;
        if (free < needed + reserve)
            throw new IOException(
                $"too many open files (EMFILE): {open} of {limit.Current} file descriptors are open (RLIMIT_NOFILE); " +
                $"a spawn needs {needed} and {reserve} are kept for the runtime: raise the limit (ulimit -n, LimitNOFILE=)");
    }
}
