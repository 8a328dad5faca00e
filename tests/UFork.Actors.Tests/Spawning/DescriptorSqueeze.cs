using System.Runtime.InteropServices;
using Mono.Unix.Native;
using UFork.Spawning;

namespace UFork.Tests.Spawning;

/// <summary>
/// Leaves this process exactly N free file descriptors, then gives everything back on dispose. The soft
/// RLIMIT_NOFILE is lowered just above the highest open fd and every number below it is filled with copies of
/// /dev/null. Anything in the process that opens a file meanwhile fails, the runtime included (a new thread
/// needs a pipe), so a squeeze lasts one synchronous call, in a collection that runs alone.
/// </summary>
internal sealed class DescriptorSqueeze : IDisposable
{
    private readonly Libc.Rlimit _saved;
    private readonly List<int> _fillers = [];

    private DescriptorSqueeze(int free)
    {
        Check(Libc.getrlimit(Libc.RLIMIT_NOFILE, out _saved), "getrlimit");
        var devNull = Syscall.open("/dev/null", OpenFlags.O_RDONLY | OpenFlags.O_CLOEXEC);
        Check(devNull, "open");
        _fillers.Add(devNull);
        var highest = OpenDescriptors().Max();
        Check(Rlimits.setrlimit(Libc.RLIMIT_NOFILE, _saved with { Current = (ulong)highest + 1 + (ulong)free }), "setrlimit");
        int copy;
        while ((copy = Libc.fcntl(devNull, Libc.F_DUPFD_CLOEXEC, 0)) >= 0)
            _fillers.Add(copy);
        for (var i = 0; i < free; i++)
        {
            Libc.close(_fillers[^1]);
            _fillers.RemoveAt(_fillers.Count - 1);
        }
    }

    public static DescriptorSqueeze LeavingFree(int free) => new(free);

    public void Dispose()
    {
        foreach (var fd in _fillers)
            Libc.close(fd);
        Check(Rlimits.setrlimit(Libc.RLIMIT_NOFILE, _saved), "setrlimit");
    }

    /// <summary>The fd numbers open in this process now.</summary>
    public static SortedSet<int> OpenDescriptors() =>
        new(Directory.EnumerateFileSystemEntries("/proc/self/fd").Select(p => int.Parse(Path.GetFileName(p))));

    private static void Check(int result, string call)
    {
        if (result < 0)
            throw new IOException($"{call}: {Marshal.GetLastPInvokeErrorMessage()}");
    }
}

/// <summary>setrlimit, which only tests need.</summary>
internal static class Rlimits
{
    [DllImport("libc", SetLastError = true)]
    public static extern int setrlimit(int resource, in Libc.Rlimit limit);
}
