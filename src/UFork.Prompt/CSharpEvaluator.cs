using System.Collections;
using Akka.Actor;
using Microsoft.CodeAnalysis.CSharp.Scripting;
using Microsoft.CodeAnalysis.Scripting;
using UFork.Control;
using UFork.Hosting;
using UFork.Supervision;

namespace UFork.Prompt;

/// <summary>
/// Evaluates C# typed at the prompt with Roslyn scripting, against the live arbiter; each line continues
/// the state of the ones before (<c>var w = arbiter.Workers;</c> then <c>w[0].Pid</c>). Roslyn is a large
/// load: only the first C# line creates this class, so start-up and serving never wait for it.
/// </summary>
internal sealed class CSharpEvaluator(Arbiter arbiter)
{
    private static readonly ScriptOptions Options = ScriptOptions.Default
        .AddReferences(typeof(Arbiter).Assembly, typeof(IActorRef).Assembly)
        .AddImports("System", "System.Linq", "System.Collections.Generic", "System.Threading.Tasks",
            "UFork.Hosting", "UFork.Supervision", "UFork.Control");

    private ScriptState<object>? _state;

    /// <summary>The value rendered as text, compile errors one per line, a runtime exception's message, or null for nothing.</summary>
    public async Task<string?> EvaluateAsync(string code)
    {
        try
        {
            _state = _state is null
                ? await CSharpScript.RunAsync(code, Options, new PromptGlobals(arbiter))
                : await _state.ContinueWithAsync(code, Options);
            return _state.ReturnValue is { } value ? Render(value) : null;
        }
        catch (CompilationErrorException e)
        {
            return string.Join('\n', e.Diagnostics.Select(d => d.ToString()));
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }

    /// <summary>The arbiter's replies as the commands show them; other sequences as their items, not their type name.</summary>
    private static string Render(object value) => value switch
    {
        string text => text,
        IEnumerable<WorkerStatus> or IEnumerable<DeadWorker> => ReplyRenderer.AsText(value),
        IEnumerable items => $"[{string.Join(", ", items.Cast<object?>())}]",
        _ => ReplyRenderer.AsText(value),
    };
}
