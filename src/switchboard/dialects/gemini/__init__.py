"""The Gemini API (generateContent): the dialect of the Gemini API and of Gemini on Vertex AI."""
