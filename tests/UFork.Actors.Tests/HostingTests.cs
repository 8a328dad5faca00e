using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using UFork.Configuration;
using UFork.Hosting;
using UFork.Supervision;
using UFork.Tests.Support;
using UFork.Worker;
using Xunit;

namespace UFork.Tests;

/// <summary>
/// An arbiter embedded in a host or an ActorSystem stops its workers as the ufork command does when the
/// host or system stops: parent pre-stop hook, SIGTERM, grace, and SIGKILL only after it.
/// </summary>
public sealed class HostingTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Stopping_the_host_runs_the_pre_stop_hook_then_gives_workers_SIGTERM_and_the_whole_grace_period()
    {
        using var dir = new TempDirectory();
        var sink = new RecordingSink();
        var hook = new PreStopRecord(dir);
        // Takes longer to exit after SIGTERM than Akka's default 5 s for a shutdown phase, well within the grace.
        var worker = Shell(dir, onTerm: "sleep 6");
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka("hosted", akka => akka
            .AddHocon("ufork { workers = 2, shutdown.grace = 20s }", HoconAddMode.Prepend)
            .WithUFork(worker, output: sink, parentPreStop: hook.Run));
        using var host = builder.Build();
        await host.StartAsync();
        var arbiter = host.Services.GetRequiredService<ActorRegistry>().Get<UForkArbiter>();
        var up = await Task.WhenAll(
            sink.WaitForAsync(l => l.Text == "up 0", Patience),
            sink.WaitForAsync(l => l.Text == "up 1", Patience));
        var workers = await arbiter.Ask<IReadOnlyList<WorkerStatus>>(ListWorkers.Instance, Patience);

        await host.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal([0, 1], workers.Select(w => w.Slot));
        Assert.True(hook.RanBeforeAnyTerm, "the parent pre-stop hook did not run before the workers got SIGTERM");
        Assert.True(File.Exists(dir.File("0.term")) && File.Exists(dir.File("1.term")), "a worker did not get SIGTERM");
        Assert.True(File.Exists(dir.File("0.exited")) && File.Exists(dir.File("1.exited")), "a worker was killed before the grace period ended");
        await ProcessWatch.AssertAllGoneAsync(up.Select(l => l.Pid), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Terminating_the_ActorSystem_runs_the_pre_stop_hook_then_gives_workers_SIGTERM()
    {
        using var dir = new TempDirectory();
        var sink = new RecordingSink();
        var hook = new PreStopRecord(dir);
        var system = ActorSystem.Create("embedding");
        var settings = UForkSettings.Default with { Workers = 1, ShutdownGrace = TimeSpan.FromSeconds(3) };
        Arbiter.Start(system, new ArbiterOptions(Shell(dir, onTerm: ":"), settings, sink, [], hook.Run));
        var up = await sink.WaitForAsync(l => l.Text == "up 0", Patience);

        await system.Terminate().WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(hook.RanBeforeAnyTerm, "the parent pre-stop hook did not run before the worker got SIGTERM");
        Assert.True(File.Exists(dir.File("0.exited")), "the worker did not get SIGTERM, or was killed before it could exit");
        await ProcessWatch.AssertAllGoneAsync([up.Pid], TimeSpan.FromSeconds(5));
    }

    /// <summary>
    /// A shell worker that says it is up, and on SIGTERM records it, runs <paramref name="onTerm"/>, records
    /// that it exits, and exits; its sleeping child goes with it.
    /// </summary>
    private static WorkerCommand Shell(TempDirectory dir, string onTerm) => WorkerCommand.Program("/bin/sh", ["-c", $$"""
        trap 'kill $! 2>/dev/null; touch {{dir.Path}}/$UFORK_WORKER_ID.term; {{onTerm}}; touch {{dir.Path}}/$UFORK_WORKER_ID.exited; exit 0' TERM
        echo up $UFORK_WORKER_ID
        sleep 60 & wait
        """]);

    /// <summary>A parent pre-stop hook that notes whether any worker had been told to stop when it ran.</summary>
    private sealed class PreStopRecord(TempDirectory dir)
    {
        public bool RanBeforeAnyTerm { get; private set; }

        public Task Run()
        {
            RanBeforeAnyTerm = !Directory.EnumerateFiles(dir.Path, "*.term").Any();
            return Task.CompletedTask;
        }
    }
}
