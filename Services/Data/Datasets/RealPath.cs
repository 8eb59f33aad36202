namespace MsSwift.Data.Datasets;

/// <summary>
/// A path with every symbolic link resolved, in each directory component and in the file itself
/// (what <c>realpath(3)</c> gives): the only form in which "is it under an allowed directory?"
/// means what it says. A link inside an allowed directory that points outside resolves outside.
/// </summary>
internal static class RealPath
{
    /// <summary>As Linux's limit on links followed in one lookup (<c>ELOOP</c>).</summary>
    private const int MaxLinks = 40;

    /// <exception cref="IOException">More than <see cref="MaxLinks"/> links (a loop).</exception>
    public static string Resolve(string path)
    {
        var links = 0;
        return Resolve(Path.GetFullPath(path), ref links);
    }

    /// <summary>True when <paramref name="realPath"/> lies inside directory <paramref name="realRoot"/> (both resolved).</summary>
    public static bool IsUnder(string realPath, string realRoot) =>
        realPath.StartsWith(Path.TrimEndingDirectorySeparator(realRoot) + Path.DirectorySeparatorChar, StringComparison.Ordinal);

    private static string Resolve(string fullPath, ref int links)
    {
        var root = Path.GetPathRoot(fullPath) ?? "";
        var resolved = root;
        foreach (var part in fullPath[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            var next = Path.Combine(resolved, part);
            // LinkTarget reads the link itself (lstat): null for plain files, directories and missing paths.
            if (new FileInfo(next).LinkTarget is { } target)
            {
                if (++links > MaxLinks)
                {
                    throw new IOException($"more than {MaxLinks} symbolic links in '{fullPath}' (a loop?)");
                }

                next = Resolve(Path.GetFullPath(target, resolved), ref links);
            }

            resolved = next;
        }

        return resolved;
    }
}
