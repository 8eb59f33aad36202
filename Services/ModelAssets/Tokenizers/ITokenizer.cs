namespace MsSwift.Modeling.Tokenizers;

/// <summary>Turns text into token ids and back. Implementations are thread-safe.</summary>
public interface ITokenizer
{
    /// <summary>Stable id stored in checkpoints ("byte", "gpt2").</summary>
    string Id { get; }

    int VocabSize { get; }

    /// <summary>The end-of-text token that ends generation, when the vocabulary has one.</summary>
    int? EndOfTextId { get; }

    IReadOnlyList<int> Encode(string text);

    string Decode(IEnumerable<int> ids);
}
