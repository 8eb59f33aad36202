namespace MsSwift.Modeling.Tokenizers;

/// <summary>Finds a tokenizer by the id a checkpoint or request names.</summary>
public static class TokenizerRegistry
{
    public const string DefaultId = ByteTokenizer.TokenizerId;

    public static IReadOnlyList<string> KnownIds { get; } = [ByteTokenizer.TokenizerId, Gpt2Tokenizer.TokenizerId];

    public static ITokenizer Create(string id) => id switch
    {
        ByteTokenizer.TokenizerId => new ByteTokenizer(),
        Gpt2Tokenizer.TokenizerId => new Gpt2Tokenizer(),
        _ => throw new ArgumentException($"unknown tokenizer '{id}'; known tokenizers: {string.Join(", ", KnownIds)}", nameof(id)),
    };
}
