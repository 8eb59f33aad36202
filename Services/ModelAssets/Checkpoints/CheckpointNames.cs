namespace MsSwift.Modeling.Checkpoints;

/// <summary>The one rule for checkpoint names, whatever the store: a relative path of plain segments.</summary>
public static class CheckpointNames
{
    /// <summary>The name's segments; throws <see cref="ArgumentException"/> for a name that could escape the store.</summary>
    public static string[] Segments(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var segments = name.Split('/');
        if (name.StartsWith('/') || segments.Any(segment => segment is "" or "." or ".." || segment.Contains('\\', StringComparison.Ordinal)))
        {
            throw new ArgumentException($"checkpoint name '{name}' must be a relative path of non-empty segments without '.' or '..'", nameof(name));
        }

        return segments;
    }
}
