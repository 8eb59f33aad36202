using MsSwift.Contracts;
using Spectre.Console;

namespace MsSwift.Cli.Infrastructure;

/// <summary>
/// Names of models, versions, datasets and jobs are checked before they go into a URL: the
/// services check them too, but "." or ".." would be resolved away by the URL itself
/// (<c>datasets/..</c> is <c>/</c>) and reach a different route than the user named.
/// </summary>
internal static class NameRules
{
    public static ValidationResult Check(params (string? Value, string What)[] names)
    {
        foreach (var (value, what) in names)
        {
            if (value is not null && !ResourceNames.IsValid(value))
            {
                return ValidationResult.Error($"{what} '{value}' is not a valid name: use {ResourceNames.Rule}");
            }
        }

        return ValidationResult.Success();
    }
}
