using UFork.Hosting;
using UFork.Output;

namespace UFork.Prompt;

/// <summary>
/// The <c>ufork&gt;</c> prompt as an arbiter's console: give one to <see cref="Arbiter.Start(Supervision.ArbiterOptions, IArbiterConsole?)"/>,
/// <see cref="Arbiter.RunAsync(string[], Configuration.UForkSettings, Func{Runtime.WorkerContext, CancellationToken, Task}, ArbiterHooks?, IArbiterConsole?)"/>
/// or <see cref="Arbiter.RunInteractiveAsync"/>, and a person at the terminal can steer the arbiter with the
/// command set or C# while its output scrolls above the line. One instance serves one arbiter.
/// </summary>
public sealed class UForkPrompt : IArbiterConsole
{
    private readonly PromptLine _line = new();

    /// <inheritdoc />
    public IOutputSink Around(IOutputSink output) => new PromptOutputSink(output, _line);

    /// <inheritdoc />
    public IShownConsole? Show(Arbiter arbiter, IJobControl jobControl) => PromptLoop.ShowIfInteractive(arbiter, _line, jobControl);
}
