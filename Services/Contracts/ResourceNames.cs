using System.Text.RegularExpressions;

namespace MsSwift.Contracts;

/// <summary>The one rule for names users give things (models, versions, datasets): safe in keys, paths and URLs.</summary>
public static partial class ResourceNames
{
    public const string Rule = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit";

    public static bool IsValid(string name) => Pattern().IsMatch(name);

    // \A and \z, not ^ and $: $ also matches before a final '\n', which would let "v1\n" through.
    [GeneratedRegex(@"\A[A-Za-z0-9][A-Za-z0-9._-]{0,63}\z")]
    private static partial Regex Pattern();
}
