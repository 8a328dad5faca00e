using System.Diagnostics;
using Mono.Unix.Native;
using UFork.Daemon;
using UFork.Hosting;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary>
/// The pidfile on real files. flock belongs to an open file, so two claims in this one process, each
/// opening the file itself, compete exactly as two arbiters would.
/// </summary>
public sealed class PidFileTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    private string PidFilePath => _directory.File("ufork.pid");
    private static string OwnPidLine => $"{Environment.ProcessId}\n";

    [Fact]
    public void It_is_written_whole_readable_by_all_and_removed_on_dispose()
    {
        UnixFileMode mode;
        using (PidFile.Claim(PidFilePath))
        {
            Assert.Equal(OwnPidLine, File.ReadAllText(PidFilePath));
            mode = File.GetUnixFileMode(PidFilePath);
        }

        Assert.Equal((UnixFileMode)(0b110_100_100 & ~Umask()), mode);
        Assert.Empty(Directory.GetFileSystemEntries(_directory.Path));
    }

    [Fact]
    public void A_pidfile_held_by_a_running_arbiter_is_refused_and_left_alone_until_it_lets_go()
    {
        var first = PidFile.Claim(PidFilePath);

        var refusal = Assert.Throws<ArbiterStartException>(() => PidFile.Claim(PidFilePath));
        var contentWhileHeld = File.ReadAllText(PidFilePath);
        first.Dispose();
        using var second = PidFile.Claim(PidFilePath);

        Assert.Equal($"already running as pid {Environment.ProcessId} (pidfile {PidFilePath})", refusal.Message);
        Assert.Equal(OwnPidLine, contentWhileHeld);
        Assert.Equal(OwnPidLine, File.ReadAllText(PidFilePath));
    }

    /// <summary>After a reboot the pid in a pidfile can name anything alive; only the lock says an arbiter runs.</summary>
    [Fact]
    public void A_pidfile_naming_an_unrelated_live_process_is_taken_over()
    {
        using var unrelated = Process.Start("sleep", "60");
        try
        {
            File.WriteAllText(PidFilePath, $"{unrelated.Id}\n");

            using var pidFile = PidFile.Claim(PidFilePath);

            Assert.Equal(OwnPidLine, File.ReadAllText(PidFilePath));
            Assert.False(unrelated.HasExited);
        }
        finally
        {
            unrelated.Kill();
            unrelated.WaitForExit();
        }
    }

    [Fact]
    public void A_pidfile_left_by_a_dead_arbiter_is_taken_over()
    {
        using (var gone = Process.Start("/bin/true")!)
        {
            gone.WaitForExit();
            File.WriteAllText(PidFilePath, $"{gone.Id}\n");
        }

        using var pidFile = PidFile.Claim(PidFilePath);

        Assert.Equal(OwnPidLine, File.ReadAllText(PidFilePath));
        Assert.Single(Directory.GetFileSystemEntries(_directory.Path));
    }

    [Theory]
    [InlineData("file", "holds something other than a pid; refusing to overwrite it")]
    [InlineData("directory", "is a directory")]
    [InlineData("symlink", "is a symbolic link; refusing to follow it")]
    [InlineData("fifo", "exists and is not a regular file")]
    public void A_path_holding_something_other_than_a_pidfile_is_refused_and_kept(string kind, string problem)
    {
        var precious = _directory.File("precious");
        File.WriteAllText(precious, "not yours\n");
        switch (kind)
        {
            case "file":
                File.WriteAllText(PidFilePath, "not yours\n");
                break;
            case "directory":
                Directory.CreateDirectory(PidFilePath);
                break;
            case "symlink":
                File.WriteAllText(precious, "4711\n"); // looks like a pidfile, but is not this path's to rewrite
                File.CreateSymbolicLink(PidFilePath, precious);
                break;
            case "fifo":
                Assert.Equal(0, Syscall.mkfifo(PidFilePath, FilePermissions.S_IRUSR | FilePermissions.S_IWUSR));
                break;
        }
        var before = Snapshot();

        var refusal = Assert.Throws<ArbiterStartException>(() => PidFile.Claim(PidFilePath));

        Assert.Equal($"pidfile {PidFilePath} {problem}", refusal.Message);
        Assert.Equal(before, Snapshot());
    }

    /// <summary>
    /// Anyone who may write the pidfile's directory can put a symlink where the temp file will be;
    /// an arbiter running as root must not write through it.
    /// </summary>
    [Fact]
    public void A_symlink_planted_at_the_temp_file_name_is_not_written_through()
    {
        var victim = _directory.File("victim");
        File.WriteAllText(victim, "precious\n");
        var planted = $"{PidFilePath}.{Environment.ProcessId}.tmp";
        File.CreateSymbolicLink(planted, victim);

        using (PidFile.Claim(PidFilePath))
            Assert.Equal(OwnPidLine, File.ReadAllText(PidFilePath));

        Assert.Equal("precious\n", File.ReadAllText(victim));
        Assert.Equal(victim, new FileInfo(planted).LinkTarget);
        Assert.False(File.Exists(PidFilePath));
    }

    [Fact]
    public void Of_many_simultaneous_claims_on_a_stale_pidfile_exactly_one_wins_every_time()
    {
        const int rounds = 20;
        const int claimers = 8;
        int deadPid;
        using (var gone = Process.Start("/bin/true")!)
        {
            gone.WaitForExit();
            deadPid = gone.Id;
        }
        for (var round = 0; round < rounds; round++)
        {
            File.WriteAllText(PidFilePath, $"{deadPid}\n");
            using var start = new Barrier(claimers);
            var outcomes = Enumerable.Range(0, claimers)
                .Select(_ => Task.Factory.StartNew(() =>
                {
                    start.SignalAndWait();
                    try
                    {
                        return (Won: PidFile.Claim(PidFilePath), Refusal: (string?)null);
                    }
                    catch (ArbiterStartException e)
                    {
                        return (Won: (PidFile?)null, Refusal: e.Message);
                    }
                }, TaskCreationOptions.LongRunning))
                .ToList()
                .Select(claim => claim.Result)
                .ToList();
            var winners = outcomes.Select(o => o.Won).OfType<PidFile>().ToList();
            var contentWithWinner = File.ReadAllText(PidFilePath);
            winners.ForEach(w => w.Dispose());

            Assert.True(winners.Count == 1, $"round {round}: {winners.Count} claims won");
            Assert.All(outcomes.Select(o => o.Refusal).OfType<string>(),
                refusal => Assert.Matches($@"^already running as pid \d+ \(pidfile {PidFilePath}\)$", refusal));
            Assert.Equal(OwnPidLine, contentWithWinner);
            Assert.Empty(Directory.GetFileSystemEntries(_directory.Path));
        }
    }

    [Fact]
    public void A_deleted_pidfile_is_written_again_and_still_held()
    {
        var log = new RecordingSink();
        using var pidFile = PidFile.Claim(PidFilePath);
        File.Delete(PidFilePath);

        pidFile.RewriteIfMissing(log);

        Assert.Equal(OwnPidLine, File.ReadAllText(PidFilePath));
        Assert.Single(Directory.GetFileSystemEntries(_directory.Path));
        Assert.Throws<ArbiterStartException>(() => PidFile.Claim(PidFilePath));
    }

    /// <summary>Same content, another file: only the file this arbiter wrote is its to remove.</summary>
    [Fact]
    public void A_pidfile_replaced_by_someone_else_is_kept_on_exit()
    {
        var pidFile = PidFile.Claim(PidFilePath);
        var replacement = _directory.File("replacement");
        File.WriteAllText(replacement, OwnPidLine);
        File.Move(replacement, PidFilePath, overwrite: true);

        pidFile.Dispose();

        Assert.Equal(OwnPidLine, File.ReadAllText(PidFilePath));
    }

    /// <summary>Every entry of the directory: a regular file with its content, anything else with its type and target.</summary>
    private IReadOnlyList<string> Snapshot() =>
        Directory.GetFileSystemEntries(_directory.Path).Order()
            .Select(entry => Syscall.lstat(entry, out var stat) == 0 && (stat.st_mode & FilePermissions.S_IFMT) == FilePermissions.S_IFREG
                ? $"{entry}: {File.ReadAllText(entry)}"
                : $"{entry} ({stat.st_mode & FilePermissions.S_IFMT} {new FileInfo(entry).LinkTarget})")
            .ToList();

    private static int Umask() =>
        Convert.ToInt32(File.ReadLines("/proc/self/status").First(l => l.StartsWith("Umask:"))["Umask:".Length..].Trim(), 8);

    public void Dispose() => _directory.Dispose();
}
