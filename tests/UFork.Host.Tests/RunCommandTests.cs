using System.Diagnostics;
using Mono.Unix.Native;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary><c>ufork run</c> end to end, as a user runs it.</summary>
public sealed class RunCommandTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Worker_lines_are_echoed_tagged_and_SIGTERM_stops_everything_cleanly()
    {
        await using var ufork = UForkProcess.Start("run", "-w", "2", "--", "/bin/sh", "-c", "echo hello $UFORK_WORKER_ID; exec sleep 30");
        var pids = await ufork.WaitForWorkersAsync(2, Patience);
        var hello0 = await ufork.WaitForLineAsync(l => l.EndsWith("] hello 0"), Patience);
        await ufork.WaitForLineAsync(l => l.EndsWith("] hello 1"), Patience);

        ufork.Signal(Signum.SIGTERM);

        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
        Assert.Matches(@"^\[w0 \d+\] hello 0$", hello0);
        await ProcessWatch.AssertAllGoneAsync(pids, TimeSpan.FromSeconds(1));
        Assert.Contains(ufork.Stdout, l => l.Contains("all workers stopped"));
    }

    [Fact]
    public async Task A_worker_ignoring_SIGTERM_is_killed_at_the_grace_period()
    {
        var config = Path.GetTempFileName();
        await File.WriteAllTextAsync(config, "ufork.shutdown.grace = 1s");
        await using var ufork = UForkProcess.Start("run", "-w", "1", "--config", config, "--",
            "/bin/sh", "-c", "trap '' TERM; echo up; while :; do sleep 0.05; done");
        await ufork.WaitForLineAsync(l => l.EndsWith("] up"), Patience);

        var clock = Stopwatch.StartNew();
        ufork.Signal(Signum.SIGTERM);

        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(4));
        Assert.Contains(ufork.Stdout, l => l.Contains("still running 1 s after SIGTERM; sending SIGKILL"));
    }

    [Fact]
    public async Task Killing_the_arbiter_with_SIGKILL_leaves_no_command_worker()
    {
        await using var ufork = UForkProcess.Start("run", "-w", "3", "--", "/bin/sh", "-c", "echo up; exec sleep 30");
        var pids = await ufork.WaitForWorkersAsync(3, Patience);
        await Eventually.WaitAsync(() => ufork.Stdout.Count(l => l.EndsWith("] up")), n => n == 3, Patience);

        ufork.Signal(Signum.SIGKILL);

        await ProcessWatch.AssertAllDeadAsync(pids, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task Killing_a_dotnet_arbiter_with_SIGKILL_leaves_no_dotnet_worker()
    {
        await using var arbiter = UForkProcess.StartDotnet(UForkProcess.TestWorkerDll, ["serve", "2"]);
        var pids = await arbiter.WaitForWorkersAsync(2, Patience);
        await Eventually.WaitAsync(() => arbiter.Stdout.Count(l => l.Contains("] ready")), n => n == 2, Patience);

        arbiter.Signal(Signum.SIGKILL);

        await ProcessWatch.AssertAllDeadAsync(pids, TimeSpan.FromSeconds(1));
    }

    [Fact]
    public async Task A_dotnet_program_serves_through_Arbiter_RunAsync_and_stops_on_SIGINT()
    {
        await using var arbiter = UForkProcess.StartDotnet(UForkProcess.TestWorkerDll, ["serve", "2"]);
        await arbiter.WaitForWorkersAsync(2, Patience);
        var ready = await arbiter.WaitForLineAsync(l => l.Contains("] ready 1 "), Patience);

        arbiter.Signal(Signum.SIGINT);

        Assert.Equal(0, await arbiter.WaitForExitAsync(Patience));
        Assert.Matches(@"^\[w1 (\d+)\] ready 1 \1 1$", ready);
    }
}
