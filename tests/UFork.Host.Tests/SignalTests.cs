using System.Diagnostics;
using Mono.Unix.Native;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary>The signals gunicorn users expect, sent to a daemon (whose signals all start at their defaults).</summary>
public sealed class SignalTests
{
    [Fact]
    public async Task USR1_HUP_and_TTIN_sent_the_moment_the_pidfile_appears_are_obeyed_and_end_or_stop_nothing()
    {
        using var directory = new TempDirectory();
        var pidFile = directory.File("ufork.pid");
        await using var ufork = UForkProcess.Start("run", "--pidfile", pidFile, "-w", "1", "--", "/bin/sh", "-c", "echo up; exec sleep 100");

        // As a script that starts the arbiter and signals it once the pidfile says it is there.
        var waited = Stopwatch.StartNew();
        while (!File.Exists(pidFile))
        {
            Assert.True(waited.Elapsed < DaemonUnderTest.Patience && ProcessWatch.IsRunning(ufork.Pid), "no pidfile appeared");
            Thread.Yield();
        }
        foreach (var signal in new[] { Signum.SIGUSR1, Signum.SIGHUP, Signum.SIGTTIN })
            ufork.Signal(signal);

        await ufork.WaitForLineAsync(l => l == "[ufork] scaled from 1 to 2 workers", DaemonUnderTest.Patience);
        await ufork.WaitForLineAsync(l => l.StartsWith("[ufork] rolling restart done"), DaemonUnderTest.Patience);
        Assert.NotEqual('T', ProcessWatch.State(ufork.Pid));
        ufork.Signal(Signum.SIGTERM);
        Assert.Equal(0, await ufork.WaitForExitAsync(DaemonUnderTest.Patience));
    }

    [Fact]
    public async Task HUP_restarts_TTIN_and_TTOU_scale_USR1_reopens_the_log_and_QUIT_stops_fast()
    {
        var directory = DaemonUnderTest.NewDirectory();
        var config = Path.Combine(directory, "ufork.conf");
        await File.WriteAllTextAsync(config, "ufork.shutdown.grace = 30s");
        var stubborn = Path.Combine(directory, "stubborn");
        // Exits on SIGTERM, unless the file `stubborn` exists: then only SIGKILL ends it.
        var worker = $"trap '[ -e {stubborn} ] || exit 0' TERM; echo up; while :; do sleep 1 & wait $!; done";
        await using var daemon = await DaemonUnderTest.StartAsync(["-w", "2", "--config", config, "--", "/bin/sh", "-c", worker], directory);
        var first = daemon.WorkerPids();

        daemon.Signal(Signum.SIGHUP);
        await daemon.WaitForLogLineAsync(l => l.StartsWith("[ufork] rolling restart done"));
        var replacements = daemon.WorkerPids().Except(first).ToList();
        await ProcessWatch.AssertAllDeadAsync(first, TimeSpan.FromSeconds(5));

        // Signals of one kind sent in a row may merge into one: each waits for the previous one's effect.
        foreach (var (signal, effect) in new[]
                 {
                     (Signum.SIGTTIN, "scaled from 2 to 3 workers"),
                     (Signum.SIGTTOU, "scaled from 3 to 2 workers"),
                     (Signum.SIGTTOU, "scaled from 2 to 1 worker"),
                     (Signum.SIGTTOU, "staying at 1 worker(s): at least one worker is needed"),
                 })
        {
            daemon.Signal(signal);
            await daemon.WaitForLogLineAsync(l => l == $"[ufork] {effect}");
        }

        var moved = daemon.LogFile + ".moved";
        File.Move(daemon.LogFile, moved); // as logrotate does, before it sends USR1
        daemon.Signal(Signum.SIGUSR1);
        var reopened = await Eventually.WaitAsync(
            () => File.Exists(daemon.LogFile) ? LogLines.ReadAll(daemon.LogFile) : [],
            lines => lines.Contains($"[ufork] reopened {daemon.LogFile}"), DaemonUnderTest.Patience);

        await File.WriteAllTextAsync(stubborn, "");
        daemon.Signal(Signum.SIGQUIT);
        await daemon.AssertExitsAsync(TimeSpan.FromSeconds(10)); // a graceful stop would wait out the 30 s grace

        Assert.Equal(2, first.Count);
        Assert.Equal(2, replacements.Count);
        Assert.Contains($"[ufork] reopened {daemon.LogFile}", reopened);
        Assert.Contains("[ufork] scaled from 2 to 1 worker", LogLines.ReadAll(moved));
        Assert.Contains(daemon.LogLines(), l => l.EndsWith("(fast: SIGKILL right after SIGTERM)"));
        Assert.Equal("[ufork] all workers stopped", LogLines.ReadAll(daemon.LogFile)[^1]);
        Assert.False(File.Exists(daemon.PidFile));
    }
}
