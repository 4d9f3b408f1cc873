"""Survey designs: declared designs, their variance, replicate weights and survey estimates."""
