using System.Reflection;
using UFork.Hosting;
using Xunit;

namespace UFork.Tests;

/// <summary>UFork.Actors supervises any command: it must not drag ASP.NET Core or Roslyn into its users' processes.</summary>
public sealed class PackageBoundaryTests
{
    [Fact]
    public void The_core_references_neither_AspNetCore_nor_Roslyn()
    {
        var references = typeof(Arbiter).Assembly.GetReferencedAssemblies().Select(name => name.Name!).ToList();

        Assert.Contains("Akka", references);
        Assert.DoesNotContain(references, name => name.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal));
        Assert.DoesNotContain(references, name => name.StartsWith("Microsoft.CodeAnalysis", StringComparison.Ordinal));
        Assert.DoesNotContain(references, name => name is "UFork.Http" or "UFork.Prompt");
    }
}
