using System.Reflection;

namespace MsSwift.Testing;

/// <summary>Paths the build wrote into an assembly as <c>AssemblyMetadata</c> (a built tool's dll, the repository root).</summary>
public static class BuildMetadata
{
    public static string Get(Assembly assembly, string key) =>
        assembly.GetCustomAttributes<AssemblyMetadataAttribute>().SingleOrDefault(attribute => attribute.Key == key)?.Value
        ?? throw new InvalidOperationException($"assembly {assembly.GetName().Name} has no AssemblyMetadata '{key}': its project file must declare it");
}
