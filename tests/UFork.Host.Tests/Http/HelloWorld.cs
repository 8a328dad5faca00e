using System.Text.RegularExpressions;
using Xunit;

namespace UFork.Host.Tests.Http;

/// <summary>What the built-in app of <c>ufork serve</c> answers, and asking it until enough workers have.</summary>
internal static partial class HelloWorld
{
    /// <summary>The pid in <c>Hello World from worker 1 (pid 4711)</c>; fails the test on any other body.</summary>
    public static int PidIn(string body)
    {
        var match = Body().Match(body);
        Assert.True(match.Success, $"not a hello-world answer: {body}");
        return int.Parse(match.Groups[1].Value);
    }

    /// <summary>
    /// Sends requests on new connections, a few at a time, until <paramref name="workers"/> distinct pids
    /// have answered (the kernel chooses which worker accepts each connection); fails the test otherwise.
    /// </summary>
    public static async Task<HashSet<int>> UntilWorkersAnswerAsync(int port, int workers, TimeSpan within)
    {
        using var deadline = new CancellationTokenSource(within);
        var pids = new HashSet<int>();
        try
        {
            while (pids.Count < workers)
            {
                var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => KeepAliveClient.GetOnceAsync(port, "/", deadline.Token)));
                pids.UnionWith(answers.Select(PidIn));
            }
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"only {pids.Count} of {workers} workers answered within {within.TotalSeconds} s: {string.Join(", ", pids)}");
        }
        return pids;
    }

    [GeneratedRegex(@"^Hello World from worker \d+ \(pid (\d+)\)\n$")]
    private static partial Regex Body();
}
