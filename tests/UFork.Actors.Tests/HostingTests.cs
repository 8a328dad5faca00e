using Akka.Actor;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using UFork.Hosting;
using UFork.Supervision;
using UFork.Tests.Support;
using UFork.Worker;
using Xunit;

namespace UFork.Tests;

public sealed class HostingTests
{
    [Fact]
    public async Task WithUFork_runs_an_arbiter_configured_by_the_systems_HOCON()
    {
        var sink = new RecordingSink();
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddAkka("hosted", akka => akka
            .AddHocon("ufork { workers = 2, shutdown.grace = 2s }", HoconAddMode.Prepend)
            .WithUFork(WorkerCommand.Program("/bin/sh", ["-c", "echo up $UFORK_WORKER_ID; exec sleep 30"]), output: sink));
        using var host = builder.Build();
        await host.StartAsync();
        var arbiter = host.Services.GetRequiredService<ActorRegistry>().Get<UForkArbiter>();

        var up = await Task.WhenAll(
            sink.WaitForAsync(l => l.Text == "up 0", TimeSpan.FromSeconds(10)),
            sink.WaitForAsync(l => l.Text == "up 1", TimeSpan.FromSeconds(10)));
        var workers = await arbiter.Ask<IReadOnlyList<WorkerStatus>>(ListWorkers.Instance, TimeSpan.FromSeconds(5));
        await arbiter.Ask<ShutdownComplete>(Shutdown.Instance, TimeSpan.FromSeconds(10));
        await host.StopAsync();

        Assert.Equal([0, 1], workers.Select(w => w.Slot));
        await ProcessWatch.AssertAllGoneAsync(up.Select(l => l.Pid), TimeSpan.FromSeconds(5));
    }
}
