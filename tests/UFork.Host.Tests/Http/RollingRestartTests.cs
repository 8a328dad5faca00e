using UFork.Tests.Support;
using System.Text.RegularExpressions;
using Mono.Unix.Native;
using Xunit;

namespace UFork.Host.Tests.Http;

[Collection(HttpProcesses.Name)]
public sealed partial class RollingRestartTests
{
    private static readonly TimeSpan Within = TimeSpan.FromSeconds(30);
    private const int ConnectionsToEachWorker = 8;
    private const int AnswersFromReplacements = 200;

    [Fact]
    public async Task A_rolling_restart_under_keep_alive_load_answers_every_request()
    {
        await using var ufork = ArbiterUnderTest.Start("serve", "-w", "2", "--bind", "127.0.0.1:0", "--no-access-log");
        var port = await ufork.ListeningPortAsync();
        var old = (await HelloWorld.UntilWorkersAnswerAsync(port, 2, Within)).ToList();
        using var load = await KeepAliveLoad.StartAsync(port, old, ConnectionsToEachWorker, Within);
        Assert.True(await Eventually.UntilAsync(() => old.All(pid => load.Answers(pid) > 0), Within),
            "the load did not reach both workers");

        ufork.Signal(Signum.SIGHUP);
        var replacements = await Task.WhenAll(old.Select(pid => ufork.StartedWorkerAsync(ufork.SlotOf(pid), pid)));
        // Logged once the last old worker has exited: every connection it held has ended by then.
        await ufork.WaitForLineAsync(RollingRestartDone(), Within);
        var answeredByReplacements = replacements.Sum(load.Answers);
        Assert.True(await Eventually.UntilAsync(() => replacements.Sum(load.Answers) >= answeredByReplacements + AnswersFromReplacements, Within),
            "the load did not go on with the replacements");
        await load.StopAsync(Within);

        Assert.Empty(load.Failures);
        Assert.Empty(old.Intersect(replacements));
        Assert.Equal(replacements.ToHashSet(), await HelloWorld.UntilWorkersAnswerAsync(port, 2, Within));
    }

    [GeneratedRegex(@"^\[ufork\] rolling restart done: ")]
    private static partial Regex RollingRestartDone();
}
