using MsSwift.Contracts;
using MsSwift.Registry.Models;
using MsSwift.ServiceDefaults.Errors;

namespace MsSwift.Registry.Tests;

/// <summary>The name rule shared by models, versions and datasets.</summary>
public sealed class ResourceNamesTests
{
    [Theory]
    [InlineData("tiny")]
    [InlineData("v1")]
    [InlineData("gpt-2_small.v3")]
    [InlineData("a234567890123456789012345678901234567890123456789012345678901234")]
    public void Names_of_letters_digits_dots_dashes_and_underscores_are_accepted(string name) =>
        Assert.True(ResourceNames.IsValid(name));

    [Theory]
    [InlineData("v1\n")]
    [InlineData("tiny\n")]
    [InlineData("v1\r\n")]
    [InlineData("\nv1")]
    [InlineData("")]
    [InlineData("-v1")]
    [InlineData("../x")]
    [InlineData("a/b")]
    [InlineData("a2345678901234567890123456789012345678901234567890123456789012345")]
    public void Names_with_a_trailing_newline_a_separator_or_too_many_characters_are_refused(string name)
    {
        Assert.False(ResourceNames.IsValid(name));
        Assert.Equal(ServiceError.InvalidArgument, Assert.Throws<ServiceException>(() => ModelRules.ValidateName(name, "model")).Error);
    }
}
