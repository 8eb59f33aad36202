using System.Text;

namespace MsSwift.Modeling.Tokenizers;

/// <summary>
/// One token per byte (vocabulary 256): the UTF-8 bytes of a prompt, such as a PredictRequest's
/// <c>input_data</c>, map 1:1 to token ids. Decoding replaces invalid UTF-8 with U+FFFD.
/// </summary>
public sealed class ByteTokenizer : ITokenizer
{
    public const string TokenizerId = "byte";

    public string Id => TokenizerId;

    public int VocabSize => 256;

    public int? EndOfTextId => null;

    public IReadOnlyList<int> Encode(string text) => Encoding.UTF8.GetBytes(text).Select(value => (int)value).ToArray();

    public string Decode(IEnumerable<int> ids) => Encoding.UTF8.GetString(ids.Select(ToByte).ToArray());

    private static byte ToByte(int id) =>
        id is >= 0 and <= 255 ? (byte)id : throw new ArgumentOutOfRangeException(nameof(id), id, "byte tokens are 0-255");
}
