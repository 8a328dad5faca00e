using System.Diagnostics;
using UFork.Daemon;
using UFork.Hosting;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

public sealed class PidFileTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    private string PidFilePath => _directory.File("ufork.pid");

    [Fact]
    public void It_is_written_whole_and_removed_on_dispose()
    {
        using (PidFile.Claim(PidFilePath))
            Assert.Equal($"{Environment.ProcessId}\n", File.ReadAllText(PidFilePath));

        Assert.Empty(Directory.GetFiles(_directory.Path));
    }

    [Fact]
    public void A_pidfile_naming_a_live_process_is_refused_and_left_alone()
    {
        File.WriteAllText(PidFilePath, "1\n"); // init is always alive

        var refusal = Assert.Throws<ArbiterStartException>(() => PidFile.Claim(PidFilePath));

        Assert.Equal($"already running as pid 1 (pidfile {PidFilePath})", refusal.Message);
        Assert.Equal("1\n", File.ReadAllText(PidFilePath));
        Assert.Single(Directory.GetFiles(_directory.Path));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_stale_or_garbled_pidfile_is_taken_over(bool namesADeadProcess)
    {
        using (var gone = Process.Start("/bin/true")!)
        {
            gone.WaitForExit();
            File.WriteAllText(PidFilePath, namesADeadProcess ? $"{gone.Id}\n" : "not a pid");
        }

        using var pidFile = PidFile.Claim(PidFilePath);

        Assert.Equal($"{Environment.ProcessId}\n", File.ReadAllText(PidFilePath));
    }

    [Fact]
    public void A_deleted_pidfile_is_written_again()
    {
        var log = new RecordingSink();
        using var pidFile = PidFile.Claim(PidFilePath);
        File.Delete(PidFilePath);

        pidFile.RewriteIfMissing(log);

        Assert.Equal($"{Environment.ProcessId}\n", File.ReadAllText(PidFilePath));
        Assert.Single(Directory.GetFiles(_directory.Path));
    }

    public void Dispose() => _directory.Dispose();
}
