public enum AlertEnginePlaceholder {}
