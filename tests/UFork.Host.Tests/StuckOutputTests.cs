using System.Diagnostics;
using Mono.Unix.Native;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary><c>ufork run</c> with its stdout a pipe that nobody reads, while its workers flood output.</summary>
public sealed class StuckOutputTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(3);

    // The arbiter gives its output this long to drain at exit (OutputWriter.CloseLimit, then the sink's
    // bounded dispose), and the runtime needs a moment to start and to end.
    private static readonly TimeSpan ExitMargin = TimeSpan.FromSeconds(5);

    [Theory]
    [InlineData(Signum.SIGTERM)]
    [InlineData(Signum.SIGQUIT)]
    public async Task A_stop_signal_ends_every_worker_within_the_grace_and_the_arbiter_exits(Signum signal)
    {
        using var directory = new TempDirectory();
        var fifo = directory.File("stdout");
        Assert.Equal(0, Syscall.mkfifo(fifo, FilePermissions.S_IRUSR | FilePermissions.S_IWUSR));
        // Held open and never read: the arbiter's writes fill the pipe and then block.
        var neverRead = Syscall.open(fifo, OpenFlags.O_RDONLY | OpenFlags.O_NONBLOCK);
        Assert.True(neverRead >= 0, $"open {fifo}: {Stdlib.GetLastError()}");
        try
        {
            var config = directory.File("ufork.conf");
            await File.WriteAllTextAsync(config, $"ufork.shutdown.grace = {Grace.TotalSeconds:0}s");
            await using var ufork = UForkProcess.StartVia(["/bin/sh", "-c", $"exec \"$@\" > '{fifo}'", "sh"],
                "run", "-w", "2", "--config", config, "--", "/bin/sh", "-c", "yes flood");
            var written = await Eventually.WaitAsync(() => Descendants(ufork.Pid).Sum(OutputStall.WrittenBytes), new OutputStall().Check, Patience);
            var workers = Descendants(ufork.Pid);
            Assert.InRange(written, 1, 8 << 20); // held back by their pipes: the arbiter's echo is stuck
            Assert.InRange(workers.Count, 2, 4); // two workers, each a shell or the yes it runs

            var clock = Stopwatch.StartNew();
            ufork.Signal(signal);
            await ProcessWatch.AssertAllDeadAsync(workers, Grace);
            var workersDeadIn = clock.Elapsed;
            var exitCode = await ufork.WaitForExitAsync(Grace + ExitMargin + Patience);
            var exitedIn = clock.Elapsed;

            Assert.InRange(workersDeadIn, TimeSpan.Zero, Grace);
            Assert.InRange(exitedIn, TimeSpan.Zero, Grace + ExitMargin);
            Assert.Equal(0, exitCode);
            Assert.Empty(ufork.Stderr);
        }
        finally
        {
            Syscall.close(neverRead);
        }
    }

    /// <summary>The processes below <paramref name="ancestor"/>: its workers, and what they started.</summary>
    private static List<int> Descendants(int ancestor)
    {
        var parents = new Dictionary<int, int>();
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid))
                continue;
            try
            {
                var stat = File.ReadAllText(Path.Combine(entry, "stat"));
                parents[pid] = int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[1]);
            }
            catch (IOException)
            {
                // gone meanwhile
            }
        }
        var found = new List<int>();
        var frontier = new Queue<int>([ancestor]);
        while (frontier.TryDequeue(out var parent))
        {
            foreach (var (child, _) in parents.Where(p => p.Value == parent))
            {
                found.Add(child);
                frontier.Enqueue(child);
            }
        }
        return found;
    }
}
