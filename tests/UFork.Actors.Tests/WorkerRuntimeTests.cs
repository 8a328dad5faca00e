using UFork.Sockets;
using UFork.Tests.Support;
using Xunit;

namespace UFork.Tests;

/// <summary>
/// The worker side of health: what a .NET worker writes on its heartbeat fd, read from a real pipe of
/// the test worker program started with a worker's environment and no arbiter.
/// </summary>
public sealed class WorkerRuntimeTests
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_worker_that_never_calls_Ready_beats_but_never_says_it_is_ready()
    {
        await using var worker = await StandaloneWorker.StartAsync(Interval, "never-ready");

        Assert.True(await worker.Heartbeats.UntilAsync(h => h.Beats.Count >= 10, Patience), worker.Describe());
        Assert.Equal("", worker.Heartbeats.Text);
    }

    [Fact]
    public async Task Ready_is_written_once_and_only_after_the_worker_calls_it()
    {
        var delay = TimeSpan.FromMilliseconds(1500);
        // slow-ready calls Ready() from four threads at once.
        await using var worker = await StandaloneWorker.StartAsync(Interval, "slow-ready", ((int)delay.TotalMilliseconds).ToString());

        Assert.True(await worker.Heartbeats.UntilAsync(h => h.Readies.Count > 0, Patience), worker.Describe());
        var readyAt = worker.Heartbeats.Readies[0];
        Assert.True(readyAt >= delay, $"ready {readyAt.TotalMilliseconds:F0} ms after the start, before the worker called Ready() at {delay.TotalMilliseconds} ms");
        Assert.True(worker.Heartbeats.Beats.Any(beat => beat < readyAt), $"no beat while starting: {worker.Describe()}");
        Assert.True(await worker.Heartbeats.UntilAsync(h => h.Beats.Count(beat => beat > readyAt) >= 5, Patience), worker.Describe());
        Assert.Equal("ready\n", worker.Heartbeats.Text);
        Assert.Single(worker.Heartbeats.Readies);
    }

    [Fact]
    public async Task The_first_beat_comes_from_the_running_app_an_interval_after_the_start()
    {
        var interval = TimeSpan.FromSeconds(2);
        // serve calls Ready() first thing in the post-fork function; the same pipe carries both, in order.
        await using var worker = await StandaloneWorker.StartAsync(interval, "serve");

        Assert.True(await worker.Heartbeats.UntilAsync(h => h.Beats.Count > 0, Patience), worker.Describe());
        Assert.True(worker.Heartbeats.Readies.Count == 1 && worker.Heartbeats.Beats[0] - worker.Heartbeats.Readies[0] >= interval / 2,
            $"a beat before the post-fork function ran, or less than an interval after it: {worker.Describe()}");
    }

    [Fact]
    public async Task A_ready_worker_beats_every_interval_and_no_faster()
    {
        const int beats = 20;
        await using var worker = await StandaloneWorker.StartAsync(Interval, "serve");

        Assert.True(await worker.Heartbeats.UntilAsync(h => h.Readies.Count > 0, Patience), worker.Describe());
        var readyAt = worker.Heartbeats.Readies[0];
        Assert.True(await worker.Heartbeats.UntilAsync(h => h.Beats.Count(beat => beat > readyAt) >= beats, Patience), worker.Describe());
        var span = worker.Heartbeats.Beats.Where(beat => beat > readyAt).Take(beats).Last() - readyAt;
        Assert.True(span >= Interval * (beats - 1) * 0.9, $"{beats} beats in {span.TotalMilliseconds:F0} ms: faster than one per {Interval.TotalMilliseconds} ms");
    }

    [Fact]
    public async Task A_worker_whose_thread_pool_is_starved_stops_beating_while_it_lives()
    {
        await using var worker = await StandaloneWorker.StartAsync(Interval, "starve");

        Assert.True(await worker.Heartbeats.UntilAsync(h => h.Readies.Count > 0 && h.Beats.Count >= 2, Patience), worker.Describe());
        Assert.True(await worker.PrintedAsync("starving", Patience), worker.Describe());
        await AssertFallsSilentWhileRunningAsync(worker);
    }

    [Fact]
    public async Task A_worker_whose_health_probe_deadlocks_stops_beating_while_it_lives()
    {
        await using var worker = await StandaloneWorker.StartAsync(Interval, "deadlock");

        Assert.True(await worker.Heartbeats.UntilAsync(h => h.Readies.Count > 0 && h.Beats.Count >= 2, Patience), worker.Describe());
        Assert.True(await worker.PrintedAsync("deadlocked", Patience), worker.Describe());
        await AssertFallsSilentWhileRunningAsync(worker);
    }

    [Fact]
    public async Task An_HTTP_worker_says_ready_once_Kestrel_answers_on_the_inherited_socket()
    {
        using var sockets = ListenSockets.Bind([BindAddress.Parse("127.0.0.1:0")], backlog: 64);
        await using var worker = await StandaloneWorker.StartAsync(Interval, sockets.Sockets.Select(s => s.Fd).ToList(), "http");

        Assert.True(await worker.Heartbeats.UntilAsync(h => h.Readies.Count > 0, Patience), worker.Describe());
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        Assert.Equal("hello from worker 0", await client.GetStringAsync($"http://{sockets.Addresses[0]}/"));
        Assert.Equal("ready\n", worker.Heartbeats.Text);
    }

    /// <summary>Twenty intervals without a beat (the arbiter's timeout is ten by default) while the process runs.</summary>
    private static async Task AssertFallsSilentWhileRunningAsync(StandaloneWorker worker)
    {
        var silence = Interval * 20;
        var silent = await Eventually.UntilAsync(
            () => worker.Heartbeats.SilentFor >= silence && ProcessWatch.IsRunning(worker.Process.Pid), Patience);
        Assert.True(silent, $"still beating after {Patience.TotalSeconds} s: {worker.Describe()}");
    }
}
