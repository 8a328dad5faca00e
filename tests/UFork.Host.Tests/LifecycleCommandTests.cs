using Mono.Unix.Native;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary>The lifecycle through the command: a boot that cannot succeed, a paused arbiter, a restart onto a broken release.</summary>
public sealed class LifecycleCommandTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Workers_that_cannot_boot_halt_ufork_run_with_exit_3_and_their_output()
    {
        await using var ufork = UForkProcess.Start("run", "-w", "2", "--", "/bin/sh", "-c", "echo 'ModuleNotFoundError: app' >&2; exit 1");

        var exit = await ufork.WaitForExitAsync(Patience);

        Assert.Equal(3, exit);
        var halt = Assert.Single(ufork.Stdout, l => l.Contains("the workers cannot boot"));
        Assert.StartsWith("[ufork] error: the workers cannot boot: 3 died in a row before becoming ready", halt);
        Assert.Contains(ufork.Stdout, l => l == "    err: ModuleNotFoundError: app");
    }

    [Fact]
    public async Task A_daemon_whose_workers_cannot_boot_reports_the_failure_to_its_caller()
    {
        var directory = DaemonUnderTest.NewDirectory();
        try
        {
            await using var parent = UForkProcess.Start("run", "--daemon", "--pidfile", DaemonUnderTest.PidFileIn(directory),
                "--log-file", DaemonUnderTest.LogFileIn(directory), "-w", "1", "--", "/bin/false");

            var exit = await parent.WaitForExitAsync(Patience);

            Assert.Equal(3, exit);
            Assert.Empty(parent.Stdout); // no pid: nothing is serving
            Assert.Contains(parent.Stderr, l => l.StartsWith("ufork: the workers cannot boot: 3 died in a row"));
            Assert.False(File.Exists(DaemonUnderTest.PidFileIn(directory)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_paused_arbiter_reads_the_beats_waiting_in_the_pipe_before_judging_silence()
    {
        using var directory = new TempDirectory();
        var config = directory.File("ufork.conf");
        await File.WriteAllTextAsync(config, "ufork.heartbeat { interval = 100ms, timeout = 1s, required = on }");
        await using var ufork = UForkProcess.Start("run", "-w", "1", "--config", config, "--", "/bin/sh", "-c",
            "printf 'ready\\n' >&\"$UFORK_HEARTBEAT_FD\"; echo beating; while :; do printf . >&\"$UFORK_HEARTBEAT_FD\"; sleep 0.1; done");
        var worker = (await ufork.WaitForWorkersAsync(1, Patience)).Single();
        await ufork.WaitForLineAsync(l => l.EndsWith("] beating"), Patience);

        ufork.Signal(Signum.SIGSTOP);
        await Task.Delay(TimeSpan.FromSeconds(3)); // what is tested: a pause longer than the heartbeat timeout
        ufork.Signal(Signum.SIGCONT);
        var probe = await ufork.WaitForLineAsync(l => l.Contains("no heartbeat") || l.Contains("started pid") && !l.Contains($"pid {worker}"),
            TimeSpan.FromSeconds(3)).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null);

        Assert.Null(probe);
        Assert.True(ProcessWatch.IsRunning(worker), "the beating worker was killed");
        ufork.Signal(Signum.SIGTERM);
        Assert.Equal(0, await ufork.WaitForExitAsync(Patience));
    }

    [Fact]
    public async Task Ctl_restart_onto_a_broken_release_waits_fails_with_the_reason_and_keeps_the_old_workers()
    {
        using var release = new TempDirectory();
        await using var daemon = await DaemonUnderTest.StartAsync(["-w", "2", "--", "/bin/sh", "-c",
            $"[ -e {release.File("broken")} ] && exit 1; exec sleep 60"]);
        var before = await daemon.CtlAsync("status");
        await File.WriteAllTextAsync(release.File("broken"), "");

        var restart = await daemon.CtlAsync("restart");
        var after = await daemon.CtlAsync("status");

        Assert.Equal(1, restart.Exit);
        Assert.StartsWith("ufork: rolling restart aborted: w0's replacement (pid ", restart.Stderr);
        Assert.Contains("exited with status 1 before it was ready", restart.Stderr);
        Assert.Equal(Pids(before.Stdout), Pids(after.Stdout));
        Assert.Contains(daemon.LogLines(), l => l.StartsWith("[ufork] warning: rolling restart aborted"));
        Assert.Equal(0, (await daemon.CtlAsync("stop")).Exit);
    }

    private static string[] Pids(string status) =>
        status.Split('\n').Skip(1).Select(row => row.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]).ToArray();
}
