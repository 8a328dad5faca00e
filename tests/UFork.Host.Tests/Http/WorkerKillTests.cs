using UFork.Tests.Support;
using Mono.Unix.Native;
using Xunit;

namespace UFork.Host.Tests.Http;

[Collection(HttpProcesses.Name)]
public sealed class WorkerKillTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);
    private const int Clients = 16;

    [Fact]
    public async Task A_worker_killed_under_load_costs_only_its_own_connections_and_is_replaced()
    {
        await using var ufork = ArbiterUnderTest.Start("serve", "-w", "2", "--bind", "127.0.0.1:0", "--no-access-log");
        var port = await ufork.ListeningPortAsync();
        var pids = (await HelloWorld.UntilWorkersAnswerAsync(port, 2, Within)).ToList();
        var (victim, survivor) = (pids[0], pids[1]);

        using var load = await KeepAliveLoad.StartAsync(port, pids, Clients / 2, Within);
        Assert.True(await Eventually.UntilAsync(() => load.Answers(victim) > 0 && load.Answers(survivor) > 0, Within),
            "the load did not reach both workers");
        var survivorAnswersBeforeKill = load.Answers(survivor);

        Syscall.kill(victim, Signum.SIGKILL);
        var replacement = await ufork.StartedWorkerAsync(ufork.SlotOf(victim), victim);
        await UntilAnsweredByAsync(port, replacement);
        await load.StopAsync(Within);

        Assert.True(load.Answers(survivor) > survivorAnswersBeforeKill, "the surviving worker stopped serving");
        Assert.NotEmpty(load.Failures);
        Assert.All(load.Failures, failure => Assert.True(failure.Pid is null || failure.Pid == victim,
            $"a connection to pid {failure.Pid}, not the killed {victim}, failed: {failure.Error}"));
        Assert.InRange(load.Failures.Count, 1, Clients);
    }

    /// <summary>New connections until <paramref name="pid"/> accepts one: the kernel picks the worker.</summary>
    private static async Task UntilAnsweredByAsync(int port, int pid)
    {
        using var cancel = new CancellationTokenSource(Within);
        while (HelloWorld.PidIn(await KeepAliveClient.GetOnceAsync(port, "/", cancel.Token)) != pid)
        {
        }
    }
}
