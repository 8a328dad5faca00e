namespace UFork.Tests.Support;

/// <summary>How a short-lived <c>ufork</c> command (<c>ufork ctl ...</c>) ended.</summary>
public sealed record CtlResult(int Exit, string Stdout, string Stderr)
{
    public static async Task<CtlResult> RunAsync(string[] arguments, string[]? launcher = null, IDictionary<string, string>? environment = null)
    {
        await using var ctl = launcher is null
            ? UForkProcess.StartDotnet(UForkProcess.UForkDll, arguments, environment)
            : UForkProcess.StartVia(launcher, arguments);
        var exit = await ctl.WaitForExitAsync(DaemonUnderTest.Patience);
        return new CtlResult(exit, string.Join('\n', ctl.Stdout), string.Join('\n', ctl.Stderr));
    }
}
